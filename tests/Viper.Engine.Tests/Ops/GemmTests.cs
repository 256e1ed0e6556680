using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::linear and ::matmul.</summary>
public class GemmTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With), "linear_f32, linear_nobias_f32, linear_f16, linear_bf16", MemberType = typeof(TestBackends))]
    public void Linear(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "linear", (b, f) =>
            b.Linear(f.Load(b, "x"), f.Load(b, "weight"), f.LoadOptional(b, "bias")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "matmul_f32, matmul_tb_f32, matmul_ta_f32, matmul_ta_tb_f32", MemberType = typeof(TestBackends))]
    public void MatMul(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "matmul", (b, f) =>
            b.MatMul(f.Load(b, "a"), f.Load(b, "b"), f.Param("transpose_b").GetBoolean(), f.Param("alpha").GetSingle(),
                f.HasParam("transpose_a") && f.Param("transpose_a").GetBoolean()));

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void LinearMatchesScalarReferenceOnOddShapes(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var rng = new Random(7);
        const int m = 131, n = 67, k = 259;
        float[] x = Random(rng, m * k), w = Random(rng, n * k), bias = Random(rng, n);
        float[] got = b.Linear(b.FromFloats(x, new Shape(m, k)), b.FromFloats(w, new Shape(n, k)), b.FromFloats(bias, new Shape(n))).ToFloats();
        Tolerance.CloseF32(ScalarReference.Linear(x, w, bias, m, n, k), got, "linear vs scalar reference");
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void LinearRejectsMismatchedShapes(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() =>
            b.Linear(b.Allocate(new Shape(2, 5), DType.F32), b.Allocate(new Shape(3, 4), DType.F32), null));
        Assert.Contains("does not match weight", e.Message);
    }

    internal static float[] Random(Random rng, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
}

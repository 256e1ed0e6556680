using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::activations, ::arithmetic, ::blockwise_elementwise (half precision, 9003 values).</summary>
public class ElementwiseTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With), "act_silu_f32, act_gelu_f32, act_gelu_tanh_f32, act_quick_gelu_f32, act_gelu_f16, act_gelu_bf16", MemberType = typeof(TestBackends))]
    public void Activation(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "activations", (b, f) =>
        {
            Activation act = f.Param("activation").GetString() switch
            {
                "silu" => global::Viper.Runtime.Activation.Silu,
                "gelu" => global::Viper.Runtime.Activation.Gelu,
                "gelu_tanh" => global::Viper.Runtime.Activation.GeluTanh,
                _ => global::Viper.Runtime.Activation.QuickGelu,
            };
            return b.Activate(f.Load(b, "x"), act);
        });

    [Theory]
    [MemberData(nameof(TestBackends.With), "geglu_f32", MemberType = typeof(TestBackends))]
    public void Geglu(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "activations", (b, f) => b.Geglu(f.Load(b, "x")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "swiglu_f32", MemberType = typeof(TestBackends))]
    public void Swiglu(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "activations", (b, f) => b.Swiglu(f.Load(b, "gate"), f.Load(b, "up")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "add_same_f32, add_bias_f32, add_mid_f32, add_time_f32", MemberType = typeof(TestBackends))]
    public void Add(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "arithmetic", (b, f) => b.Add(f.Load(b, "a"), f.Load(b, "b")), atol: 0, rtol: 0);

    // Half-precision operands over more values than one block of the CPU backend's element loop (widened and rounded per block).
    [Theory]
    [MemberData(nameof(TestBackends.With), "swiglu_f16, swiglu_bf16", MemberType = typeof(TestBackends))]
    public void SwigluInHalfPrecision(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "blockwise_elementwise", (b, f) => b.Swiglu(f.Load(b, "gate"), f.Load(b, "up")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "add_same_f16, add_same_bf16", MemberType = typeof(TestBackends))]
    public void AddInHalfPrecision(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "blockwise_elementwise", (b, f) => b.Add(f.Load(b, "a"), f.Load(b, "b")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "act_silu_f16, act_silu_bf16", MemberType = typeof(TestBackends))]
    public void SiluInHalfPrecision(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "blockwise_elementwise", (b, f) => b.Activate(f.Load(b, "x"), global::Viper.Runtime.Activation.Silu));

    [Theory]
    [MemberData(nameof(TestBackends.With), "mul_same_f32, mul_bias_f32, mul_mid_f32, mul_time_f32", MemberType = typeof(TestBackends))]
    public void Mul(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "arithmetic", (b, f) => b.Mul(f.Load(b, "a"), f.Load(b, "b")), atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.With), "scale_f32", MemberType = typeof(TestBackends))]
    public void Scale(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "arithmetic", (b, f) => b.Scale(f.Load(b, "x"), f.Param("factor").GetSingle()), atol: 0, rtol: 0);

    // A comparison and a select: exact in every dtype (the low-precision cases hold inputs already rounded), NaN kept.
    [Theory]
    [MemberData(nameof(TestBackends.With), "clamp_f32, clamp_one_sided_f32, clamp_f16, clamp_bf16", MemberType = typeof(TestBackends))]
    public void Clamp(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "clamp", (b, f) => b.Clamp(f.Load(b, "x"), f.Param("min").GetSingle(),
            f.Param("max") is { ValueKind: System.Text.Json.JsonValueKind.String } ? float.PositiveInfinity : f.Param("max").GetSingle()), // "inf": JSON has no infinity
            atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ClampRefusesBoundsThatAreNotAnInterval(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor x = b.FromFloats([1f, 2f], new Shape(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Clamp(x, 1f, -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Clamp(x, float.NaN, 1f));
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void AddRejectsShapesThatDoNotBroadcast(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.Add(b.Allocate(new Shape(2, 3), DType.F32), b.Allocate(new Shape(4), DType.F32)));
        Assert.Contains("does not broadcast", e.Message);
    }
}

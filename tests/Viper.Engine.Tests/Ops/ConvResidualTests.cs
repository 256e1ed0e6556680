using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Convolutions past one tile in every GEMM dimension (the implicit-GEMM kernel's 64×64×32 tiles), with the fused
/// residual, on every backend: against the scalar f32 reference, f16/bf16 within twice the error of a result
/// computed in f32 and rounded once.
/// </summary>
public class ConvResidualTests
{
    public static TheoryData<string, DType, int> Cases()
    {
        var data = new TheoryData<string, DType, int>();
        foreach (string backend in TestBackends.Names)
        {
            foreach (DType t in new[] { DType.F32, DType.F16, DType.BF16 })
            {
                data.Add(backend, t, 1);
                data.Add(backend, t, 2);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvWithResidualMatchesTheReference(string backend, DType dtype, int stride)
    {
        using IBackend b = TestBackends.Create(backend);
        using var cpu = new CpuBackend(1);
        const int batch = 2, h = 11, w = 9, cin = 19, cout = 70, k = 3;
        var pad = stride == 2 ? new Padding2d(0, 1, 0, 1) : Padding2d.Same(1);
        var rng = new Random(stride * 7);
        float[] x = Round(cpu, Random(rng, batch * h * w * cin), dtype), weight = Round(cpu, Random(rng, cout * k * k * cin, 0.3f), dtype);
        float[] bias = Round(cpu, Random(rng, cout), dtype);
        float[] reference = ScalarReference.Conv2d(x, batch, h, w, cin, weight, cout, k, k, bias, stride, pad.Top, pad.Bottom, pad.Left, pad.Right,
            out int ho, out int wo);
        var outShape = new Shape(batch, ho, wo, cout);
        float[] residual = Round(cpu, Random(rng, (int)outShape.ElementCount), dtype);
        for (int i = 0; i < reference.Length; i++)
        {
            reference[i] += residual[i];
        }

        float[] got = b.Conv2d(b.FromFloats(x, new Shape(batch, h, w, cin), dtype), b.FromFloats(weight, new Shape(cout, k, k, cin), dtype),
            b.FromFloats(bias, new Shape(cout), dtype), new Conv2dOptions(stride, pad), b.FromFloats(residual, outShape, dtype)).ToFloats();
        if (dtype == DType.F32)
        {
            Tolerance.CloseF32(reference, got, $"conv {backend}");
            return;
        }

        double naive = Tolerance.MaxAbsError(reference, Round(cpu, reference, dtype));
        double ours = Tolerance.MaxAbsError(reference, got);
        double ulp = reference.Max(v => Math.Abs((double)v)) * (dtype == DType.BF16 ? 1.0 / 256 : 1.0 / 2048);
        Assert.True(ours <= (2 * naive) + ulp, $"{backend} {dtype}: error {ours:g3} vs rounded-once {naive:g3}");
    }

    private static float[] Random(Random rng, int n, float scale = 1f) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1) * scale).ToArray();

    private static float[] Round(CpuBackend cpu, float[] values, DType dtype) => cpu.FromFloats(values, new Shape(values.Length), dtype).ToFloats();
}

using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::group_norm, ::group_norm_add, ::layer_norm, ::rms_norm.</summary>
public class NormTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With),
        "group_norm_f32, group_norm_silu_f32, group_norm_btc_f32, group_norm_silu_f16, group_norm_silu_bf16",
        MemberType = typeof(TestBackends))]
    public void GroupNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "group_norm", (b, f) =>
            b.Diffusion().GroupNorm(f.Load(b, "x"), f.Param("groups").GetInt32(), f.Load(b, "gamma"), f.Load(b, "beta"),
                f.Param("eps").GetSingle(), f.Param("silu").GetBoolean()));

    [Theory]
    [MemberData(nameof(TestBackends.With),
        "group_norm_temb_silu_f32, group_norm_full_add_f32, group_norm_temb_silu_f16, group_norm_temb_silu_bf16",
        MemberType = typeof(TestBackends))]
    public void GroupNormOfSum(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "group_norm_add", (b, f) =>
            b.Diffusion().GroupNorm(f.Load(b, "x"), f.Param("groups").GetInt32(), f.Load(b, "gamma"), f.Load(b, "beta"),
                f.Param("eps").GetSingle(), f.Param("silu").GetBoolean(), f.Load(b, "add")));

    /// <summary>
    /// A group norm large enough that the CPU backend splits its statistics over 16 blocks of positions: against an f64
    /// computation, and bit-equal with one thread and with two (the split depends on the shape alone).
    /// </summary>
    [Fact]
    public void LargeCpuGroupNormMatchesF64AndDoesNotDependOnThreads()
    {
        const int h = 96, w = 96, c = 64, groups = 8;
        var rng = new Random(4);
        float[] x = [.. Enumerable.Range(0, h * w * c).Select(i => (rng.NextSingle() * 4) + 1.5f)];
        float[] gamma = GemmTests.Random(rng, c), beta = GemmTests.Random(rng, c);
        float[] Run(int threads)
        {
            using var cpu = new CpuBackend(threads);
            return cpu.Diffusion().GroupNorm(cpu.FromFloats(x, new Shape(1, h, w, c)), groups, cpu.FromFloats(gamma, new Shape(c)),
                cpu.FromFloats(beta, new Shape(c)), 1e-6f, silu: true).ToFloats();
        }

        float[] one = Run(1), two = Run(2);
        Assert.Equal(one, two);
        var expected = new float[x.Length];
        int cg = c / groups;
        for (int g = 0; g < groups; g++)
        {
            double sum = 0, sq = 0;
            for (int p = 0; p < h * w; p++)
            {
                for (int j = g * cg; j < (g + 1) * cg; j++)
                {
                    sum += x[(p * c) + j];
                }
            }

            double mean = sum / (h * w * cg);
            for (int p = 0; p < h * w; p++)
            {
                for (int j = g * cg; j < (g + 1) * cg; j++)
                {
                    sq += (x[(p * c) + j] - mean) * (x[(p * c) + j] - mean);
                }
            }

            double rstd = 1 / Math.Sqrt((sq / (h * w * cg)) + 1e-6);
            for (int p = 0; p < h * w; p++)
            {
                for (int j = g * cg; j < (g + 1) * cg; j++)
                {
                    double v = ((x[(p * c) + j] - mean) * rstd * gamma[j]) + beta[j];
                    expected[(p * c) + j] = (float)(v / (1 + Math.Exp(-v)));
                }
            }
        }

        Tolerance.CloseF32(expected, one, "96×96×64 group norm + SiLU vs f64");
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void GroupNormRejectsMisshapedAdd(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.Diffusion().GroupNorm(b.Allocate(new Shape(2, 2, 2, 32), DType.F32), 8,
            b.Allocate(new Shape(32), DType.F32), b.Allocate(new Shape(32), DType.F32), 1e-5f, add: b.Allocate(new Shape(1, 32), DType.F32)));
        Assert.Contains("add must be", e.Message);
    }

    [Theory]
    [MemberData(nameof(TestBackends.With), "layer_norm_f32, layer_norm_noaffine_f32, layer_norm_f16, layer_norm_bf16", MemberType = typeof(TestBackends))]
    public void LayerNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "layer_norm", (b, f) =>
            b.LayerNorm(f.Load(b, "x"), f.LoadOptional(b, "gamma"), f.LoadOptional(b, "beta"), f.Param("eps").GetSingle()));

    [Theory]
    [MemberData(nameof(TestBackends.With), "rms_norm_f32, rms_norm_f16, rms_norm_bf16", MemberType = typeof(TestBackends))]
    public void RmsNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "rms_norm", (b, f) =>
            b.RmsNorm(f.Load(b, "x"), f.Load(b, "gamma"), f.Param("eps").GetSingle()));

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void GroupNormRejectsIndivisibleChannels(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.Diffusion().GroupNorm(b.Allocate(new Shape(1, 2, 2, 30), DType.F32), 32,
            b.Allocate(new Shape(30), DType.F32), b.Allocate(new Shape(30), DType.F32), 1e-5f));
        Assert.Contains("not divisible", e.Message);
    }
}

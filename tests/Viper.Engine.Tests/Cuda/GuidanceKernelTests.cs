using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Guidance;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// The fused ViPer guidance step (kernels/guidance.cu on the CUDA backend, a scalar loop on the CPU backend)
/// against its scalar reference, bit for bit, on every backend.
/// </summary>
public class GuidanceKernelTests
{
    public static TheoryData<string, DType, string> Cases()
    {
        var data = new TheoryData<string, DType, string>();
        foreach (string backend in TestBackends.Names)
        {
            foreach (DType t in new[] { DType.F32, DType.F16, DType.BF16 })
            {
                foreach (string scheduler in new[] { "euler", "ddim", "ddpm" })
                {
                    data.Add(backend, t, scheduler);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedStepMatchesTheScalarReferenceBitForBit(string backendName, DType dtype, string scheduler)
    {
        using IBackend backend = TestBackends.Create(backendName);
        var (update, withNoise) = scheduler switch
        {
            "euler" => (SchedulerUpdate.Euler(14.6146, 11.2), false),
            "ddim" => (SchedulerUpdate.Ddim(0.0047, 0.0112), false),
            _ => (SchedulerUpdate.Ddpm(0.0047, 0.0112, lastStep: false), true),
        };
        var step = new GuidanceStep(5f, 0.85f, 0.6f, update);
        Run(backend, dtype, step, withNoise, out float[] latents, out float[][] eps, out float[]? noise, out float[] got);
        for (int i = 0; i < got.Length; i++)
        {
            float expected = step.Apply(latents[i], step.Combine(eps[0][i], eps[1][i], eps[2][i], eps[3][i]), noise?[i]);
            Assert.True(expected.Equals(got[i]), $"element {i}: {got[i]}, expected {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void BetaZeroIsExactlyClassifierFreeGuidance(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        var update = SchedulerUpdate.Euler(3.2, 2.9);
        Run(backend, DType.F32, GuidanceStep.ClassifierFree(7.5f, update), false, out float[] latents, out float[][] eps, out _, out float[] got);
        for (int i = 0; i < got.Length; i++)
        {
            float cfg = eps[0][i] + (7.5f * (eps[1][i] - eps[0][i])); // diffusers: uncond + w·(text − uncond)
            float expected = (update.A * latents[i]) + (update.B * cfg);
            Assert.True(expected.Equals(got[i]), $"element {i}: {got[i]}, expected {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void PaperFormIsEquationThree(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        const float w = 5f, beta = 0.85f;
        var update = new SchedulerUpdate(0f, 1f, 0f); // x ← eps: read the combined prediction back directly
        Run(backend, DType.F32, GuidanceStep.Paper(w, beta, update), false, out _, out float[][] eps, out _, out float[] got);
        float[] expected = Enumerable.Range(0, got.Length)
            .Select(i => (float)(((1 - w) * (double)eps[0][i]) + (w * (eps[1][i] + (beta * ((double)eps[2][i] - eps[3][i]))))))
            .ToArray();
        Tolerance.Close(expected, got, 1e-5f, 1e-5f, "eq. 3");
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void RejectsNonFiniteParametersAndMismatchedTensors(string backendName)
    {
        using IBackend b = TestBackends.Create(backendName);
        Tensor e = b.Allocate(new Shape(8), DType.F16), other = b.Allocate(new Shape(9), DType.F16);
        Tensor x = b.Allocate(new Shape(8), DType.F32), x16 = b.Allocate(new Shape(8), DType.F16);
        var ok = new GuidanceStep(5f, 0.85f, 0.85f, SchedulerUpdate.Euler(1, 0.5));
        Assert.Contains("β₊ must be finite", Assert.Throws<ArgumentOutOfRangeException>(() =>
            b.Diffusion().GuidanceStep(e, e, e, e, x, null, ok with { BetaPositive = float.NaN })).Message);
        Assert.Contains("eps_vp+ is [9] F16", Assert.Throws<ArgumentException>(() => b.Diffusion().GuidanceStep(e, e, other, e, x, null, ok)).Message);
        Assert.Contains("latents must be f32", Assert.Throws<ArgumentException>(() => b.Diffusion().GuidanceStep(e, e, e, e, x16, null, ok)).Message);
    }

    [Fact]
    public void SchedulerUpdatesEqualTheTextbookSteps()
    {
        const double x = 0.7, eps = -1.3, z = 0.4, abT = 0.0047, abPrev = 0.0112;
        double x0 = (x - (Math.Sqrt(1 - abT) * eps)) / Math.Sqrt(abT);
        SchedulerUpdate ddim = SchedulerUpdate.Ddim(abT, abPrev);
        Assert.Equal((Math.Sqrt(abPrev) * x0) + (Math.Sqrt(1 - abPrev) * eps), (ddim.A * x) + (ddim.B * eps), 4);
        SchedulerUpdate ddpm = SchedulerUpdate.Ddpm(abT, abPrev, lastStep: false);
        double betaT = 1 - (abT / abPrev);
        double mean = (Math.Sqrt(abPrev) * betaT / (1 - abT) * x0) + (Math.Sqrt(abT / abPrev) * (1 - abPrev) / (1 - abT) * x);
        double sigma = Math.Sqrt((1 - abPrev) / (1 - abT) * betaT);
        Assert.Equal(mean + (sigma * z), (ddpm.A * x) + (ddpm.B * eps) + (ddpm.C * z), 4);
        Assert.Equal(0f, SchedulerUpdate.Ddpm(abT, abPrev, lastStep: true).C);
        SchedulerUpdate euler = SchedulerUpdate.Euler(14.6, 11.2);
        Assert.Equal(x + ((11.2 - 14.6) * eps), (euler.A * x) + (euler.B * eps), 4);
    }

    private static void Run(IBackend backend, DType dtype, GuidanceStep step, bool withNoise,
        out float[] latents, out float[][] eps, out float[]? noise, out float[] result)
    {
        var shape = new Shape(2, 4, 17, 19); // (B, C, H, W) latents with odd spatial tails
        var rng = new Random(21);
        var tensors = Enumerable.Range(0, 4).Select(_ => backend.FromFloats(KernelOpTests.Random(rng, shape), shape, dtype)).ToArray();
        eps = tensors.Select(t => t.ToFloats()).ToArray(); // as the dtype stores them
        latents = KernelOpTests.Random(rng, shape);
        noise = withNoise ? KernelOpTests.Random(rng, shape) : null;
        Tensor x = backend.FromFloats(latents, shape);
        Tensor? z = noise is null ? null : backend.FromFloats(noise, shape);
        backend.Diffusion().GuidanceStep(tensors[0], tensors[1], tensors[2], tensors[3], x, z, step);
        result = x.ToFloats();
    }
}

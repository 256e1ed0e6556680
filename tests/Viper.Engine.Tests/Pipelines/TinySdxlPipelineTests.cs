using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// Tiny SDXL base + refiner pipelines written by <see cref="TinyPipeline"/>: a ViPer generation (reference form, Euler,
/// refiner hand-off at 0.8) is deterministic per seed and agrees across the CPU and emulated CUDA backends.
/// </summary>
public sealed class TinySdxlPipelineTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private string Base => folders.Sdxl;

    private string Refiner => folders.Refiner;

    private static GenerationRequest Request => new()
    {
        Prompt = "a lighthouse at dawn", Preference = VisualPreference.FromLists("watercolor, pastel tones", "photorealism"), Steps = 6, Seed = 3,
    };

    [Fact]
    public void IsDeterministicPerSeedAndAgreesAcrossBackends()
    {
        GenerationResult cpu = Generate("cpu", Request);
        Assert.Equal(cpu.Latents, Generate("cpu", Request).Latents);
        Assert.NotEqual(cpu.Latents, Generate("cpu", Request with { Seed = 4 }).Latents);
        Assert.All(cpu.Pixels, p => Assert.True(float.IsFinite(p)));
        Assert.Equal(["text", "base", "refiner", "decode", "total"], cpu.Timings.Select(t => t.Stage));
        GenerationResult emulated = Generate("cuda-emulated", Request);
        Tolerance.Close(cpu.Latents, emulated.Latents, 1e-4f, 1e-3f, "latents cpu vs cuda-emulated");
    }

    /// <summary>The replayed step graph runs the same kernels on the same buffers as the eager steps: bit for bit equal.</summary>
    [Theory]
    [InlineData("euler", 2)]
    [InlineData("dpm++2m", 1)]
    public void ReplayedStepGraphsGiveTheEagerResult(string scheduler, int batch)
    {
        GenerationRequest request = Request with { Scheduler = scheduler, Batch = batch, Steps = 5 };
        GenerationResult eager = Generate("cuda-emulated", request);
        GenerationResult replayed = Generate("cuda-emulated", request, captureSteps: true);
        Assert.Equal(eager.Latents, replayed.Latents);
        Assert.All(eager.Timings, t => Assert.Null(t.GraphNodes));
        Assert.All(replayed.Timings.Where(t => t.Stage is "base" or "refiner"), t => Assert.True(t.GraphNodes > 50, $"{t.Stage}: {t.GraphNodes}"));
        Assert.Null(Generate("cpu", request, captureSteps: true).Timings.Single(t => t.Stage == "base").GraphNodes);
    }

    [Fact]
    public void PaperFormAndChunkedTextRun()
    {
        string longText = string.Join(", ", Enumerable.Range(0, 40).Select(i => $"attribute number {i}"));
        GenerationResult chunked = Generate("cpu", Request with
        {
            Form = ViperForm.Paper, LongText = LongTextMode.Chunk, Preference = VisualPreference.FromLists(longText, "blur"),
        });
        Assert.All(chunked.Latents, v => Assert.True(float.IsFinite(v)));
    }

    private GenerationResult Generate(string backend, GenerationRequest request, bool captureSteps = false)
    {
        using IBackend b = TestBackends.Create(backend);
        using ViperPipeline pipeline = ViperPipeline.Load(Base, b, new PipelineOptions { RefinerFolder = Refiner, CaptureSteps = captureSteps });
        return pipeline.Generate(request);
    }
}

using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// The tiny StableDiffusionPipeline in ../shared/refs/sd15 (diffusers 0.29.2): 4 DDIM steps at guidance 7.5 from the
/// seed-31337 latents, 64×64. With no preference (and with β = 0 and a preference, which must be plain CFG bit for bit)
/// the engine reproduces the final latents and the output image, on each backend.
/// </summary>
public class Sd15PipelineTests
{
    private static string Folder => RepoPaths.Shared("refs", "sd15");

    private static GenerationRequest Reference => new()
    {
        Prompt = "a photo of an astronaut riding a horse on mars", Guidance = 7.5f, Steps = 4, Scheduler = "ddim", Width = 64, Height = 64,
        Seed = 31337,
    };

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ReproducesDiffusersFourStepDdim(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using ViperPipeline pipeline = ViperPipeline.Load(Folder, b);
        GenerationResult result = pipeline.Generate(Reference);
        using var outputs = new RefTensors(Path.Combine(Folder, "pipeline_outputs.safetensors"));
        Tolerance.Close(outputs.Floats("final_latents"), result.Latents, 1e-4f, 1e-4f, "final_latents");
        Tolerance.Close(outputs.Floats("image_np"), result.Pixels, 1e-4f, 1e-4f, "image_np");
        Assert.Equal(["text", "base", "decode", "total"], result.Timings.Select(t => t.Stage));
    }

    [Fact]
    public void InitialLatentsAreTorchRandnOfTheSeed()
    {
        using var inputs = new RefTensors(Path.Combine(Folder, "pipeline_inputs.safetensors"));
        Assert.Equal(inputs.Floats("latents_init"), new Viper.Schedulers.TorchGenerator(31337).Randn(256));
    }

    [Fact]
    public void BetaZeroIsClassifierFreeGuidanceExactly()
    {
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(Folder, b);
        GenerationResult plain = pipeline.Generate(Reference);
        VisualPreference preference = VisualPreference.FromLists("vivid colors, watercolor", "blurry, dark");
        GenerationResult betaZero = pipeline.Generate(Reference with { Preference = preference, BetaPositive = 0, BetaNegative = 0 });
        GenerationResult paperZero = pipeline.Generate(Reference with { Preference = preference, BetaPositive = 0, Form = ViperForm.Paper });
        GenerationResult personalized = pipeline.Generate(Reference with { Preference = preference });
        Assert.Equal(plain.Latents, betaZero.Latents);
        Assert.Equal(plain.Latents, paperZero.Latents);
        Assert.NotEqual(plain.Latents, personalized.Latents);
    }

    [Fact]
    public void ReportsEveryStepAndStopsWhenCancelled()
    {
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(Folder, b);
        var reports = new List<GenerationProgress>();
        pipeline.Generate(Reference, new SynchronousProgress(reports.Add));
        Assert.Equal([0, 1, 2, 3, 4], reports.Where(r => r.Stage == "base").Select(r => r.Step));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => pipeline.Generate(Reference, null, cancelled.Token));
    }

    [Theory]
    [InlineData(0, 64, "Steps")]
    [InlineData(4, 60, "Width")]
    public void RejectsBadRequests(int steps, int width, string parameter)
    {
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(Folder, b);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate(Reference with { Steps = steps, Width = width }));
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void RejectsNaNBetaAndMissingComponents()
    {
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(Folder, b);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate(Reference with { BetaPositive = float.NaN }));
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "model_index.json"), """{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}""");
        var missing = Assert.Throws<Viper.Weights.ModelConfigException>(() => ViperPipeline.Load(folder.Path, b));
        Assert.Contains("unet", missing.Message);
    }

    private sealed class SynchronousProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}

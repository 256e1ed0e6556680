using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>
/// Aesthetic gradients inside generation, on tiny-sd with a CLIP folder made from its own text encoder (as SD1.5's is
/// openai/clip-vit-large-patch14's text tower): zero steps change nothing, steps tune the prompt only, ViPer's terms
/// combine, and pipelines the method cannot serve are refused at load.
/// </summary>
public sealed class AestheticGenerationTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static readonly GenerationRequest Request = new() { Prompt = "a lighthouse at dawn", Steps = 3, Seed = 11, Width = 64, Height = 64 };

    private static readonly float[] Embedding = Enumerable.Range(0, AestheticClipFolder.ProjectionDim).Select(i => MathF.Sin(i + 1f)).ToArray();

    /// <summary>On the CPU backend (the kernels are each run on the emulated device by AestheticTrainerTests; five tiny-sd generations there take 90 s).</summary>
    [Fact]
    public void ZeroStepsGiveTheImageWithoutPersonalizationAndStepsTuneThePrompt()
    {
        using var clip = new TempFolder();
        string clipFolder = AestheticClipFolder.Write(Path.Combine(folders.Sd, "text_encoder"), Path.Combine(clip.Path, "clip"));
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sd, b, new PipelineOptions { AestheticClipFolder = clipFolder });
        GenerationResult plain = pipeline.Generate(Request);
        GenerationResult zero = pipeline.Generate(Request with { Aesthetic = new AestheticSettings(Embedding, Steps: 0) });
        Assert.Equal(plain.Pixels, zero.Pixels); // T = 0 is the plain conditioning: nothing is tuned
        Assert.Null(zero.AestheticLosses);

        var reports = new List<GenerationProgress>();
        GenerationResult tuned = pipeline.Generate(Request with { Aesthetic = new AestheticSettings(Embedding, Steps: 3, LearningRate: 1e-2) }, new ListProgress(reports));
        Assert.Equal(4, tuned.AestheticLosses!.Length);
        Assert.True(tuned.AestheticLosses[^1] < tuned.AestheticLosses[0], $"losses {string.Join(", ", tuned.AestheticLosses)}");
        Assert.NotEqual(plain.Pixels, tuned.Pixels);
        Assert.Contains(new GenerationProgress("aesthetic", 3, 3), reports);
        Assert.Contains(tuned.Timings, t => t.Stage == "aesthetic");

        // The weights are restored after each request: the same request again gives the same image.
        GenerationResult again = pipeline.Generate(Request with { Aesthetic = new AestheticSettings(Embedding, Steps: 3, LearningRate: 1e-2) });
        Assert.Equal(tuned.Pixels, again.Pixels);

        // ViPer on top of the tuned prompt: eq. 1/3 steer it, so the image moves again.
        GenerationResult both = pipeline.Generate(Request with
        {
            Aesthetic = new AestheticSettings(Embedding, Steps: 3, LearningRate: 1e-2), Preference = VisualPreference.FromLists("watercolor", "photorealism"),
        });
        Assert.NotEqual(tuned.Pixels, both.Pixels);
    }

    /// <summary>Disposing the pipeline frees everything its load took, the aesthetic CLIP model included (it did not).</summary>
    [Fact]
    public void DisposingThePipelineReleasesTheAestheticClipModel()
    {
        using var clip = new TempFolder();
        string clipFolder = AestheticClipFolder.Write(Path.Combine(folders.Sd, "text_encoder"), Path.Combine(clip.Path, "clip"));
        using var b = (Viper.Cuda.Backend.CudaBackend)TestBackends.Create("cuda-emulated");
        long before = b.Memory.InUseBytes;
        long withoutClip;
        using (ViperPipeline.Load(folders.Sd, b))
        {
            withoutClip = b.Memory.InUseBytes;
        }

        using (ViperPipeline.Load(folders.Sd, b, new PipelineOptions { AestheticClipFolder = clipFolder }))
        {
            Assert.True(b.Memory.InUseBytes > withoutClip, "the CLIP model holds device memory of its own");
        }

        Assert.Equal(before, b.Memory.InUseBytes);
    }

    [Fact]
    public void PipelinesTheMethodCannotServeAreRefusedAtLoad()
    {
        using IBackend cpu = TestBackends.Create("cpu");
        string refsClip = RepoPaths.Shared("refs", "aesthetic"); // a text tower of width 24; tiny-sd's is 32
        var e = Assert.Throws<ModelConfigException>(() => ViperPipeline.Load(folders.Sd, cpu, new PipelineOptions { AestheticClipFolder = refsClip }));
        Assert.Contains("differs in shape", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ModelConfigException>(() => ViperPipeline.Load(folders.Sdxl, cpu, new PipelineOptions { AestheticClipFolder = refsClip }));
        Assert.Contains("differs in shape", e.Message, StringComparison.Ordinal); // SDXL's text_encoder is checked the same way

        using ViperPipeline plain = ViperPipeline.Load(folders.Sd, cpu);
        var missing = Assert.Throws<ArgumentException>(() => plain.Generate(Request with { Aesthetic = new AestheticSettings(Embedding) }));
        Assert.Contains("AestheticClipFolder", missing.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => plain.Generate(Request with { Aesthetic = new AestheticSettings(Embedding, Steps: -1) }));
    }

    private sealed class ListProgress(List<GenerationProgress> reports) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => reports.Add(value);
    }
}

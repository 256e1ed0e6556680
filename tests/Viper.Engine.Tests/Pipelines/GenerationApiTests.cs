using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Schedulers;
using Viper.Weights;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// What a diffusers user expects of the generation API on tiny pipelines: the folder's scheduler by default, SDXL's
/// force_zeros_for_empty_prompt, given latents, a per-step callback with previews, the shuffle switch, image-to-image,
/// variant-only folders, truncation warnings and config/weight disagreements named by key.
/// </summary>
public sealed class GenerationApiTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static readonly VisualPreference Preference = VisualPreference.FromLists("watercolor, pastel tones, loose brushwork", "photorealism, harsh shadows");

    private static GenerationRequest Request => new() { Prompt = "a lighthouse at dawn", Steps = 4, Seed = 11 };

    [Fact]
    public void DefaultSchedulerIsTheFoldersClassAndAFallbackIsAnnounced()
    {
        GenerationResult byDefault = Generate(folders.Sd, Request);
        Assert.Equal("ddim", byDefault.Scheduler);
        Assert.Equal(Generate(folders.Sd, Request with { Scheduler = "ddim" }).Latents, byDefault.Latents);
        Assert.NotEqual(Generate(folders.Sd, Request with { Scheduler = "euler" }).Latents, byDefault.Latents);
        Assert.Empty(byDefault.Warnings);

        string pndm = folders.Copy(folders.Sd, "tiny-sd-pndm");
        EditJson(Path.Combine(pndm, "scheduler", "scheduler_config.json"), o => o["_class_name"] = "PNDMScheduler");
        GenerationResult fallback = Generate(pndm, Request);
        Assert.Equal("euler", fallback.Scheduler);
        Assert.Contains(fallback.Warnings, w => w.Contains("PNDMScheduler", StringComparison.Ordinal) && w.Contains("euler", StringComparison.Ordinal));
        Assert.Empty(Generate(pndm, Request with { Scheduler = "euler" }).Warnings);
    }

    [Fact]
    public void SdxlWithoutNegativePromptFollowsForceZerosForEmptyPrompt()
    {
        GenerationResult zeros = Generate(folders.Sdxl, Request);
        GenerationResult empty = Generate(folders.Sdxl, Request with { NegativePrompt = "" });
        Assert.NotEqual(empty.Latents, zeros.Latents);

        // β = 0 is plain generation: still the zero unconditional embedding, still plain CFG bit for bit.
        Assert.Equal(zeros.Latents, Generate(folders.Sdxl, Request with { Preference = Preference, BetaPositive = 0, BetaNegative = 0 }).Latents);

        // The ViPer forms encode "" as the authors' pipeline does (negative_prompt defaults to "").
        GenerationRequest viper = Request with { Preference = Preference };
        Assert.Equal(Generate(folders.Sdxl, viper with { NegativePrompt = "" }).Latents, Generate(folders.Sdxl, viper).Latents);

        string off = folders.Copy(folders.Sdxl, "tiny-sdxl-no-zeros");
        EditJson(Path.Combine(off, "model_index.json"), o => o["force_zeros_for_empty_prompt"] = false);
        Assert.Equal(Generate(off, Request with { NegativePrompt = "" }).Latents, Generate(off, Request).Latents);

        // Absent from model_index.json, diffusers' SDXL pipelines default to true.
        string absent = folders.Copy(folders.Sdxl, "tiny-sdxl-flag-absent");
        EditJson(Path.Combine(absent, "model_index.json"), o => o.Remove("force_zeros_for_empty_prompt"));
        Assert.Equal(zeros.Latents, Generate(absent, Request).Latents);
    }

    [Fact]
    public void GivenLatentsReplaceTheSeedsNoise()
    {
        GenerationResult seeded = Generate(folders.Sd, Request);
        float[] noise = new TorchGenerator(11).Randn(4 * 8 * 8);
        Assert.Equal(seeded.Latents, Generate(folders.Sd, Request with { Seed = 999, Latents = noise }).Latents);
        Assert.NotEqual(seeded.Latents, Generate(folders.Sd, Request with { Latents = noise.Select(v => -v).ToArray() }).Latents);
        var e = Assert.Throws<ArgumentException>(() => Generate(folders.Sd, Request with { Latents = new float[10] }));
        Assert.Contains("(1, 4, 8, 8)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StepCallbackSeesEveryStepAndPreviewsAtLatentSize()
    {
        var states = new List<StepState>();
        GenerationResult result = Generate(folders.Sdxl, Request with { Batch = 2, OnStepEnd = states.Add }, folders.Refiner);
        Scheduler schedule = SchedulerKind.Create(SchedulerConfig.StableDiffusionXl, "euler");
        schedule.SetTimesteps(4);
        Assert.Equal(schedule.Timesteps, states.Select(s => s.Timestep));
        Assert.Equal([0, 1, 2, 3], states.Select(s => s.Index));
        Assert.Equal(["base", "base", "base", "refiner"], states.Select(s => s.Stage));
        Assert.Equal(result.Latents, states[^1].Latents);
        Assert.Equal([2, 4, 8, 8], states[0].Shape);
        IReadOnlyList<RgbImage> preview = states[0].Preview()!;
        Assert.Equal(2, preview.Count);
        Assert.All(preview, p => Assert.Equal((8, 8), (p.Width, p.Height)));
    }

    [Fact]
    public void PreviewMapsLatentsLinearlyToRgb()
    {
        // One latent pixel with channel 0 = 1: RGB = (row 0 of ComfyUI's SD15 factors + 1)/2 · 255.
        RgbImage image = LatentPreview.StableDiffusion.ToImages([1f, 0f, 0f, 0f], 1, 4, 1, 1)[0];
        Assert.Equal(new byte[] { 172, 157, 169 }, image.Pixels);
    }

    [Fact]
    public void ShuffleCanBeTurnedOffAndTheOrderIsReported()
    {
        GenerationRequest viper = Request with { Preference = Preference };
        GenerationResult kept = Generate(folders.Sd, viper with { ShufflePreferences = false });
        Assert.Equal("watercolor, pastel tones, loose brushwork", kept.LikedText);
        Assert.Equal("photorealism, harsh shadows", kept.DislikedText);
        GenerationResult shuffled = Generate(folders.Sd, viper);
        var likes = Preference.Likes.ToList();
        var dislikes = Preference.Dislikes.ToList();
        var random = new PythonRandom(11);
        random.Shuffle(likes);
        random.Shuffle(dislikes);
        Assert.Equal(VisualPreference.Join(likes), shuffled.LikedText);
        Assert.Equal(VisualPreference.Join(dislikes), shuffled.DislikedText);
        Assert.Equal("", Generate(folders.Sd, Request).LikedText);
    }

    [Fact]
    public void ImageToImageRunsTheStrengthsShareOfTheSchedule()
    {
        var image = new RgbImage(64, 64, Enumerable.Range(0, 64 * 64 * 3).Select(i => (byte)(i * 7 % 251)).ToArray());
        var other = new RgbImage(64, 64, Enumerable.Range(0, 64 * 64 * 3).Select(i => (byte)(i * 13 % 241)).ToArray());
        foreach ((double strength, int steps) in new[] { (0.5, 5), (0.75, 7), (1.0, 10) })
        {
            var reports = new List<GenerationProgress>();
            Generate(folders.Sd, Request with { Steps = 10, InitImage = image, Strength = strength }, progress: reports);
            Assert.Equal(Enumerable.Range(0, steps + 1), reports.Where(r => r.Stage == "base").Select(r => r.Step));
        }

        GenerationRequest img2img = Request with { InitImage = image, Strength = 0.6 };
        GenerationResult a = Generate(folders.Sd, img2img);
        Assert.Equal(a.Latents, Generate(folders.Sd, img2img).Latents);
        Assert.NotEqual(a.Latents, Generate(folders.Sd, img2img with { InitImage = other }).Latents);
        Assert.NotEqual(a.Latents, Generate(folders.Sd, Request).Latents);
        Assert.Throws<ArgumentException>(() => Generate(folders.Sd, img2img with { Width = 128 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(folders.Sd, img2img with { Strength = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generate(folders.Sd, img2img with { Strength = 0.1 })); // int(4 · 0.1) = 0 steps
    }

    [Fact]
    public void VariantOnlyFoldersLoadWithTheirVariantAndSayWhichToPass()
    {
        using IBackend cpu = TestBackends.Create("cpu");
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(folders.SdxlFp16, cpu));
        Assert.Contains("text_encoder", e.Message, StringComparison.Ordinal);
        Assert.Contains("--variant fp16", e.Message, StringComparison.Ordinal);
        var plain = Assert.Throws<WeightsException>(() => ViperPipeline.Load(folders.Sdxl, cpu, new PipelineOptions { Variant = "fp16" }));
        Assert.Contains("without a variant", plain.Message, StringComparison.Ordinal);

        GenerationResult half = Generate(folders.SdxlFp16, Request, folders.RefinerFp16, new PipelineOptions { Variant = "fp16" });
        GenerationResult full = Generate(folders.Sdxl, Request, folders.Refiner);
        Tolerance.Close(full.Latents, half.Latents, 2e-2f, 2e-2f, "fp16-stored weights vs f32 weights");
    }

    [Fact]
    public void TextBeyondTheEncodersWindowIsAnnounced()
    {
        string longLikes = string.Join(", ", Enumerable.Range(0, 40).Select(i => $"attribute {i}"));
        GenerationRequest request = Request with { Preference = VisualPreference.FromLists(longLikes, "blur") };
        using IBackend cpu = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sd, cpu);
        string warning = Assert.Single(pipeline.Warnings(request));
        Assert.Contains("liked attributes", warning, StringComparison.Ordinal);
        Assert.Contains("--chunk-long-text", warning, StringComparison.Ordinal);
        int tokens = Viper.Models.Tokenizers.ClipTokenizer.Load(Path.Combine(folders.Sd, "tokenizer")).Encode(longLikes).Count;
        Assert.Contains($"{tokens - 75} token(s)", warning, StringComparison.Ordinal);
        Assert.Empty(pipeline.Warnings(request with { LongText = LongTextMode.Chunk }));
        Assert.Empty(pipeline.Warnings(Request));
    }

    [Fact]
    public void AConfigThatDisagreesWithTheWeightsNamesTheKey()
    {
        string edited = folders.Copy(folders.Sd, "tiny-sd-wrong-config");
        EditJson(Path.Combine(edited, "unet", "config.json"), o => o["cross_attention_dim"] = 48);
        using IBackend cpu = TestBackends.Create("cpu");
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(edited, cpu));
        Assert.Contains("config.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("cross_attention_dim = 48", e.Message, StringComparison.Ordinal);
        Assert.Contains("the tensor has 32", e.Message, StringComparison.Ordinal);
    }

    private static void EditJson(string path, Action<JsonObject> edit)
    {
        JsonObject o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(o);
        File.WriteAllText(path, o.ToJsonString());
    }

    private static GenerationResult Generate(string folder, GenerationRequest request, string? refiner = null, PipelineOptions? options = null,
        List<GenerationProgress>? progress = null)
    {
        using IBackend cpu = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(folder, cpu, (options ?? new PipelineOptions()) with { RefinerFolder = refiner });
        return pipeline.Generate(request, progress is null ? null : new ListProgress(progress));
    }

    private sealed class ListProgress(List<GenerationProgress> reports) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => reports.Add(value);
    }
}

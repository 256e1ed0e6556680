using Viper.Engine.Tests.Support;
using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Models.SingleFile;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// The configs a single file gets without --config describe the real models: every component built from them asks for
/// exactly the tensors (names and shapes) of the published diffusers component (weights-manifest), and the tokenizers
/// and schedulers are the reference downloads'.
/// </summary>
public class BundledConfigTests
{
    [Theory]
    [InlineData(SingleFileFamily.StableDiffusion1, "unet:sd15-unet", "vae:sd15-vae", "text_encoder:sd15-text-encoder")]
    [InlineData(SingleFileFamily.StableDiffusion2, "unet:sd21-unet", "vae:sd21-vae", "text_encoder:sd21-text-encoder")]
    [InlineData(SingleFileFamily.StableDiffusionXl, "unet:sdxl-unet", "vae:sdxl-vae", "text_encoder:sdxl-text-encoder", "text_encoder_2:sdxl-text-encoder-2")]
    [InlineData(SingleFileFamily.StableDiffusionXlRefiner, "unet:sdxl-refiner-unet", "vae:sdxl-refiner-vae", "text_encoder_2:sdxl-refiner-text-encoder-2")]
    public void DescribeThePublishedComponents(SingleFileFamily family, params string[] components)
    {
        using var folder = new TempFolder();
        BundledConfigs.Write(family, folder.Path, TinyPipelineFolders.Tokenizer);
        ModelIndex index = ModelIndex.Load(folder.Path);
        using IBackend cpu = TestBackends.Create("cpu");
        foreach (string entry in components)
        {
            (string component, string manifest) = (entry.Split(':')[0], entry.Split(':')[1]);
            string config = Path.Combine(index.PathOf(component), "config.json");
            var recorder = new ShapeRecorder(cpu);
            IDisposable model = component switch
            {
                "unet" => new UNet2DConditionModel(recorder.Root, UNet2DConditionConfig.Load(config)),
                "vae" => new AutoencoderKL(recorder.Root, AutoencoderKLConfig.Load(config)),
                _ => new ClipTextModel(recorder.Root, ClipTextConfig.Load(config), component == "text_encoder_2"),
            };
            model.Dispose();
            WeightsManifest published = WeightsManifest.Load(Path.Combine(RepoPaths.Root, "weights-manifest", manifest + ".json"));
            var expected = published.Tensors.Where(t => !t.Key.EndsWith("position_ids", StringComparison.Ordinal)).ToDictionary(t => t.Key, t => string.Join(",", t.Value.Shape));
            var asked = recorder.Tensors.ToDictionary(t => t.Key, t => string.Join(",", t.Value.Shape));
            Assert.True(expected.Count == asked.Count && expected.All(e => asked.TryGetValue(e.Key, out string? s) && s == e.Value),
                $"{family} {component}: {string.Join("; ", expected.Except(asked).Take(5))} | {string.Join("; ", asked.Except(expected).Take(5))}");
        }

        Viper.Schedulers.SchedulerConfig scheduler = Viper.Schedulers.SchedulerConfig.Load(Path.Combine(index.PathOf("scheduler"), "scheduler_config.json"));
        Assert.Equal(family == SingleFileFamily.StableDiffusion2 ? "v_prediction" : "epsilon", scheduler.PredictionType);
        string tokenizer = index.Has("tokenizer_2") ? "tokenizer_2" : "tokenizer";
        Assert.Equal(family == SingleFileFamily.StableDiffusion1 ? 49407 : 0, Viper.Models.Tokenizers.ClipTokenizer.Load(index.PathOf(tokenizer)).PadId);
    }

    [Fact]
    public void ASingleFileWithoutConfigUsesItsFamilysBundledConfig()
    {
        // the tiny reference file is not the full-size SD1.5 the bundled config describes: the one error says how it differs
        using IBackend b = TestBackends.Create("cpu");
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b));
        Assert.True(e.Message.Contains("does not match the sd1 layout", StringComparison.Ordinal), e.Message);
        Assert.True(e.Message.Contains("'model.diffusion_model.input_blocks.0.0.weight' is [16, 4, 3, 3]; unet 'conv_in.weight' needs [320, 4, 3, 3]", StringComparison.Ordinal), e.Message);
        Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), "viper-sd1-config-*"));
    }
}

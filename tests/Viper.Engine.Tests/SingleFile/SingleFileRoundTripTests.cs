using Viper.Engine.Tests.Support;
using Viper.Models.SingleFile;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// The layouts with no shared vectors (SDXL base and refiner: conditioner.embedders with OpenCLIP bigG's fused in_proj and
/// transposed projection; SD2.x: cond_stage_model.model): tiny pipelines written as single files by
/// <see cref="SingleFileConversion.ToSingleFile"/> load back to the folder's image bit for bit, and `convert` writes
/// folders holding the original tensors byte for byte.
/// </summary>
public class SingleFileRoundTripTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static GenerationRequest Request => new() { Prompt = "a lighthouse at dusk", Steps = 3, Seed = 11, Guidance = 5f };

    [Fact]
    public void SdxlBaseAndRefinerSingleFilesGiveTheFoldersImage()
    {
        using var temp = new TempFolder();
        string baseFile = Path.Combine(temp.Path, "sdxl.safetensors"), refinerFile = Path.Combine(temp.Path, "refiner.safetensors");
        SingleFileConversion.ToSingleFile(folders.Sdxl, baseFile, SingleFileFamily.StableDiffusionXl);
        SingleFileConversion.ToSingleFile(folders.Refiner, refinerFile, SingleFileFamily.StableDiffusionXlRefiner);
        using (WeightStore written = WeightStore.Open(baseFile))
        {
            Assert.Contains("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", written.Names);
            Assert.Contains("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight", written.Names);
            Assert.Contains("model.diffusion_model.input_blocks.3.1.transformer_blocks.1.attn1.to_k.weight", written.Names);
            Assert.Contains("model.diffusion_model.label_emb.0.0.weight", written.Names);
        }

        using IBackend b = TestBackends.Create("cpu");
        GenerationResult folder, single;
        using (ViperPipeline p = ViperPipeline.Load(folders.Sdxl, b, new PipelineOptions { RefinerFolder = folders.Refiner }))
        {
            folder = p.Generate(Request);
        }

        using (ViperPipeline p = ViperPipeline.Load(baseFile, b, new PipelineOptions
        {
            ConfigFolder = folders.Sdxl, RefinerFolder = refinerFile, RefinerConfigFolder = folders.Refiner,
        }))
        {
            single = p.Generate(Request);
            Assert.Empty(p.IgnoredTensors);
        }

        Assert.Equal(folder.Latents, single.Latents);
        Assert.Equal(folder.Images[0].Pixels, single.Images[0].Pixels);
    }

    [Fact]
    public void Sd2LayoutRoundTripsAndIgnoresWhatDiffusersIgnores()
    {
        using var temp = new TempFolder();
        string file = Path.Combine(temp.Path, "sd2.safetensors");
        SingleFileConversion.ToSingleFile(folders.Sd, file, SingleFileFamily.StableDiffusion2);
        using IBackend b = TestBackends.Create("cpu");
        GenerationResult folder;
        using (ViperPipeline p = ViperPipeline.Load(folders.Sd, b))
        {
            folder = p.Generate(Request);
        }

        // what a real SD2 file carries beyond diffusers' 23 layers: the 24th OpenCLIP layer, the projection, EMA and schedule buffers
        string extended = Path.Combine(temp.Path, "sd2-extras.safetensors");
        using (WeightStore store = WeightStore.Open(file))
        {
            var tensors = store.Entries.Select(e => new TensorData(e.Name, e.DType, e.Shape, store.Bytes(e.Name).ToArray())).ToList();
            byte[] four = new byte[16];
            tensors.Add(new("cond_stage_model.model.transformer.resblocks.9.ln_1.weight", DType.F32, new Shape(4), four));
            tensors.Add(new("cond_stage_model.model.text_projection", DType.F32, new Shape(2, 2), four));
            tensors.Add(new("model_ema.decay", DType.F32, new Shape(1), four[..4]));
            tensors.Add(new("alphas_cumprod", DType.F32, new Shape(4), four));
            SafeTensorsWriter.Write(extended, tensors);
        }

        using ViperPipeline single = ViperPipeline.Load(extended, b, new PipelineOptions { ConfigFolder = folders.Sd });
        Assert.Equal(folder.Latents, single.Generate(Request).Latents);
        Assert.Equal(["alphas_cumprod", "cond_stage_model.model.text_projection", "cond_stage_model.model.transformer.resblocks.9.ln_1.weight", "model_ema.decay"],
            single.IgnoredTensors.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ConvertWritesTheReferenceFolderTensorsByteForByte()
    {
        using var temp = new TempFolder();
        string output = Path.Combine(temp.Path, "converted");
        using IBackend b = TestBackends.Create("cpu");
        using (PipelineSource source = PipelineSource.Open(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), SingleFileReferenceTests.ConfigFolder))
        {
            SingleFileConversion.ToFolder(source, output, b);
        }

        foreach ((string component, string file) in new[] { ("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model"), ("text_encoder", "model") })
        {
            using WeightStore original = WeightStore.Open(Path.Combine(SingleFileReferenceTests.ConfigFolder, component, file + ".safetensors"));
            using WeightStore converted = WeightStore.Open(Path.Combine(output, component, file + ".safetensors"));
            Assert.Equal(original.Names.Where(n => !n.EndsWith("position_ids", StringComparison.Ordinal)).Order(), converted.Names.Order());
            foreach (string name in converted.Names)
            {
                Assert.Equal(original.Entry(name).Shape, converted.Entry(name).Shape);
                Assert.True(original.Bytes(name).SequenceEqual(converted.Bytes(name)), $"{component} '{name}' differs");
            }
        }

        Assert.True(File.Exists(Path.Combine(output, "model_index.json")));
        Assert.True(File.Exists(Path.Combine(output, "tokenizer", "vocab.json")));
        Assert.False(File.Exists(Path.Combine(output, "unet", "inputs.safetensors")));
    }

    [Fact]
    public void AMismatchedFileIsOneErrorListingEveryProblemBeforeLoading()
    {
        using var temp = new TempFolder();
        string file = Path.Combine(temp.Path, "broken.safetensors");
        using (WeightStore store = WeightStore.Open(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors")))
        {
            var tensors = store.Entries.Where(e => e.Name != "model.diffusion_model.out.2.bias" && e.Name != "first_stage_model.quant_conv.bias")
                .Select(e => new TensorData(e.Name, e.DType, e.Shape, store.Bytes(e.Name).ToArray())).ToList();
            tensors.Add(new("model.diffusion_model.extra_block.weight", DType.F32, new Shape(2), new byte[8]));
            SafeTensorsWriter.Write(file, tensors);
        }

        using IBackend b = TestBackends.Create("cpu");
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(file, b, new PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder }));
        Assert.Contains("3 problem(s)", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing 'model.diffusion_model.out.2.bias' (unet 'conv_out.bias'", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing 'first_stage_model.quant_conv.bias'", e.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected 'model.diffusion_model.extra_block.weight'", e.Message, StringComparison.Ordinal);

        var sdxlConfig = Assert.Throws<ModelConfigException>(() => ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b,
            new PipelineOptions { ConfigFolder = folders.Sdxl }));
        Assert.Contains("is a sd1 checkpoint", sdxlConfig.Message, StringComparison.Ordinal);
        var lora = Assert.Throws<WeightsException>(() => ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "lora_kohya.safetensors"), b));
        Assert.Contains("looks like a LoRA", lora.Message, StringComparison.Ordinal);
    }
}

using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// refs/singlefile/lora_kohya.safetensors (161 kohya modules: attention and feed-forward linears, 1×1 proj_in/proj_out,
/// LoCon 3×3 resnet conv1, the text encoder; f16 down/up, alpha per module) on the single file: diffusers' merged images
/// at weight 1.0 and 0.6 within 1 level; swapping LoRAs between requests never reloads, and a request without one is the
/// base model bit for bit.
/// </summary>
public class LoraReferenceTests
{
    private static string Lora => Path.Combine(SingleFileReferenceTests.Refs, "lora_kohya.safetensors");

    private static ViperPipeline Load(IBackend b) =>
        ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b, new PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder });

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void KohyaLoraReproducesDiffusersMergesAndSwapsBackExactly(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using ViperPipeline pipeline = Load(b);
        GenerationResult plain = pipeline.Generate(SingleFileReferenceTests.Reference);
        GenerationResult full = pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(Lora, 1.0f)] });
        SingleFileReferenceTests.AssertImage("lora_1.0_image_uint8_hwc", full);
        SingleFileReferenceTests.AssertImage("lora_0.6_image_uint8_hwc", pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(Lora, 0.6f)] }));
        GenerationResult again = pipeline.Generate(SingleFileReferenceTests.Reference);
        Assert.Equal(plain.Latents, again.Latents);
        Assert.NotEqual(plain.Latents, full.Latents);
    }

    [Fact]
    public void TwoLorasAddTheirDeltas()
    {
        // the same file at 0.3 and 0.3 is the file at 0.6 (one rounding of W + Σ deltas, computed from the stored weight)
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = Load(b);
        GenerationResult twice = pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(Lora, 0.3f), new LoraWeight(Lora, 0.3f)] });
        SingleFileReferenceTests.AssertImage("lora_0.6_image_uint8_hwc", twice);
    }

    [Fact]
    public void RefusesUnknownModulesUnsupportedVariantsAndBadWeightsBeforeChangingAnything()
    {
        using var temp = new TempFolder();
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = Load(b);
        GenerationResult plain = pipeline.Generate(SingleFileReferenceTests.Reference);

        string foreign = Path.Combine(temp.Path, "foreign.safetensors");
        string dora = Path.Combine(temp.Path, "dora.safetensors");
        using (WeightStore store = WeightStore.Open(Lora))
        {
            List<TensorData> all = store.Entries.Select(e => new TensorData(e.Name, e.DType, e.Shape, store.Bytes(e.Name).ToArray())).ToList();
            SafeTensorsWriter.Write(foreign, [.. all, .. all.Where(t => t.Name.StartsWith("lora_te_text_model_encoder_layers_0_mlp_fc1", StringComparison.Ordinal))
                .Select(t => t with { Name = t.Name.Replace("layers_0", "layers_7", StringComparison.Ordinal) })]);
            SafeTensorsWriter.Write(dora, [.. all, new TensorData("lora_unet_mid_block_resnets_0_conv1.dora_scale", DType.F16, new Shape(1, 32, 1, 1), new byte[64])]);
        }

        var unknown = Assert.Throws<WeightsException>(() => pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(Lora), new LoraWeight(foreign)] }));
        Assert.Contains("'lora_te_text_model_encoder_layers_7_mlp_fc1'", unknown.Message, StringComparison.Ordinal);
        var variant = Assert.Throws<WeightsException>(() => pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(dora)] }));
        Assert.Contains("DoRA", variant.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate(SingleFileReferenceTests.Reference with { Loras = [new LoraWeight(Lora, float.NaN)] }));
        Assert.Equal(plain.Latents, pipeline.Generate(SingleFileReferenceTests.Reference).Latents);
    }
}

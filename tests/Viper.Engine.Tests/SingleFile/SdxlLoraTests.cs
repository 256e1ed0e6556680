using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// SDXL LoRAs on tiny-sdxl: the same modules named as kohya names them for SDXL (SGM blocks: input_blocks.3.1,
/// output_blocks.1.1, lora_te1_/lora_te2_) and as diffusers/PEFT names them give the same image, bit for bit, on the
/// folder and on its single file; every module changes the image.
/// </summary>
public class SdxlLoraTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    // (kohya SGM key, PEFT key, out, in, kh): a linear, a LoCon 3×3 conv, a linear proj_in, each text encoder
    private static readonly (string Kohya, string Peft, int Out, int In, int K)[] Modules =
    [
        ("lora_unet_input_blocks_3_1_transformer_blocks_0_attn1_to_q", "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q", 64, 64, 1),
        ("lora_unet_input_blocks_1_0_in_layers_2", "unet.down_blocks.0.resnets.0.conv1", 32, 32, 3),
        ("lora_unet_output_blocks_1_1_proj_in", "unet.up_blocks.0.attentions.1.proj_in", 64, 64, 1),
        ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", "text_encoder.text_model.encoder.layers.0.self_attn.q_proj", 32, 32, 1),
        ("lora_te2_text_model_encoder_layers_1_mlp_fc1", "text_encoder_2.text_model.encoder.layers.1.mlp.fc1", 64, 32, 1),
    ];

    private static GenerationRequest Request => new() { Prompt = "a lighthouse at dusk", Steps = 2, Seed = 5, Guidance = 5f };

    [Fact]
    public void KohyaSgmNamesAndPeftNamesMergeTheSame()
    {
        using var temp = new TempFolder();
        string kohya = Path.Combine(temp.Path, "kohya.safetensors"), peft = Path.Combine(temp.Path, "peft.safetensors");
        Write(kohya, peft);
        string single = Path.Combine(temp.Path, "sdxl.safetensors");
        SingleFileConversion.ToSingleFile(folders.Sdxl, single, Viper.Models.SingleFile.SingleFileFamily.StableDiffusionXl);

        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline folder = ViperPipeline.Load(folders.Sdxl, b);
        using ViperPipeline file = ViperPipeline.Load(single, b, new PipelineOptions { ConfigFolder = folders.Sdxl });
        float[] plain = folder.Generate(Request).Latents;
        float[] viaKohya = folder.Generate(Request with { Loras = [new LoraWeight(kohya, 0.8f)] }).Latents;
        Assert.NotEqual(plain, viaKohya);
        Assert.Equal(viaKohya, folder.Generate(Request with { Loras = [new LoraWeight(peft, 0.8f)] }).Latents);
        Assert.Equal(viaKohya, file.Generate(Request with { Loras = [new LoraWeight(kohya, 0.8f)] }).Latents);
        Assert.Equal(plain, folder.Generate(Request).Latents);

        foreach ((string key, _, _, _, _) in Modules)
        {
            string one = Path.Combine(temp.Path, key + ".safetensors");
            Write(one, null, key);
            Assert.NotEqual(plain, folder.Generate(Request with { Loras = [new LoraWeight(one)] }).Latents);
        }
    }

    private static void Write(string kohyaPath, string? peftPath, string? only = null)
    {
        var kohya = new List<TensorData>();
        var peft = new List<TensorData>();
        var random = new Random(3);
        foreach ((string key, string peftKey, int outFeatures, int inFeatures, int k) in Modules.Where(m => only is null || m.Kohya == only))
        {
            const int Rank = 4;
            byte[] down = HostTensors.EncodeFloats(Enumerable.Range(0, Rank * inFeatures * k * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(), DType.F16);
            byte[] up = HostTensors.EncodeFloats(Enumerable.Range(0, outFeatures * Rank).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(), DType.F16);
            Shape downShape = k == 1 ? new Shape(Rank, inFeatures) : new Shape(Rank, inFeatures, k, k);
            Shape upShape = k == 1 ? new Shape(outFeatures, Rank) : new Shape(outFeatures, Rank, 1, 1);
            kohya.Add(new($"{key}.lora_down.weight", DType.F16, downShape, down));
            kohya.Add(new($"{key}.lora_up.weight", DType.F16, upShape, up));
            kohya.Add(new($"{key}.alpha", DType.F32, new Shape(), HostTensors.EncodeFloats([2f], DType.F32)));
            // PEFT has no alpha: the same scale (alpha/rank = 1/2) is folded into B
            byte[] halfUp = HostTensors.EncodeFloats(HostTensors.DecodeFloats(up, DType.F16).Select(v => v / 2).ToArray(), DType.F32);
            peft.Add(new($"{peftKey}.lora_A.weight", DType.F16, downShape, down));
            peft.Add(new($"{peftKey}.lora_B.weight", DType.F32, upShape, halfUp));
        }

        SafeTensorsWriter.Write(kohyaPath, kohya);
        if (peftPath is not null)
        {
            SafeTensorsWriter.Write(peftPath, peft);
        }
    }
}

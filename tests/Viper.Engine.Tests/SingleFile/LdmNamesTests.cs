using Viper.Engine.Tests.Support;
using Viper.Models.SingleFile;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// The name maps against names the original checkpoints (v1-5-pruned, sd_xl_base_1.0, sd_xl_refiner_1.0) hold, and
/// every tensor of the real diffusers components (weights-manifest) maps to a distinct original name.
/// </summary>
public class LdmNamesTests
{
    [Theory]
    [InlineData("down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight")]
    [InlineData("down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight")]
    [InlineData("down_blocks.3.resnets.1.conv2.weight", "input_blocks.11.0.out_layers.3.weight")]
    [InlineData("down_blocks.0.attentions.1.transformer_blocks.0.ff.net.0.proj.weight", "input_blocks.2.1.transformer_blocks.0.ff.net.0.proj.weight")]
    [InlineData("mid_block.resnets.1.time_emb_proj.bias", "middle_block.2.emb_layers.1.bias")]
    [InlineData("mid_block.attentions.0.proj_in.weight", "middle_block.1.proj_in.weight")]
    [InlineData("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight")]
    [InlineData("up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight")]
    [InlineData("up_blocks.3.attentions.2.proj_out.weight", "output_blocks.11.1.proj_out.weight")]
    [InlineData("up_blocks.3.resnets.2.norm1.weight", "output_blocks.11.0.in_layers.0.weight")]
    [InlineData("time_embedding.linear_2.weight", "time_embed.2.weight")]
    [InlineData("conv_out.bias", "out.2.bias")]
    public void Sd15UnetNames(string diffusers, string original) =>
        Assert.Equal(original, LdmUnetNames.ToLdm(diffusers, UNet2DConditionConfig.StableDiffusion15));

    [Theory]
    [InlineData("down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight", "input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight")]
    [InlineData("down_blocks.2.attentions.1.transformer_blocks.9.norm3.bias", "input_blocks.8.1.transformer_blocks.9.norm3.bias")]
    [InlineData("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.2.conv.weight")]
    [InlineData("up_blocks.2.resnets.2.conv1.weight", "output_blocks.8.0.in_layers.2.weight")]
    [InlineData("add_embedding.linear_1.weight", "label_emb.0.0.weight")]
    public void SdxlUnetNames(string diffusers, string original) =>
        Assert.Equal(original, LdmUnetNames.ToLdm(diffusers, UNet2DConditionConfig.StableDiffusionXlBase));

    [Theory]
    [InlineData("decoder.up_blocks.0.upsamplers.0.conv.weight", "decoder.up.3.upsample.conv.weight")]
    [InlineData("decoder.up_blocks.3.resnets.2.conv_shortcut.weight", "decoder.up.0.block.2.nin_shortcut.weight")]
    [InlineData("encoder.down_blocks.1.downsamplers.0.conv.bias", "encoder.down.1.downsample.conv.bias")]
    [InlineData("encoder.mid_block.attentions.0.to_out.0.weight", "encoder.mid.attn_1.proj_out.weight")]
    [InlineData("decoder.mid_block.attentions.0.group_norm.bias", "decoder.mid.attn_1.norm.bias")]
    [InlineData("decoder.mid_block.resnets.1.norm2.weight", "decoder.mid.block_2.norm2.weight")]
    [InlineData("encoder.conv_norm_out.weight", "encoder.norm_out.weight")]
    public void VaeNames(string diffusers, string original) =>
        Assert.Equal(original, LdmVaeNames.ToLdm(diffusers, AutoencoderKLConfig.StableDiffusion));

    [Theory]
    [InlineData("sd15-unet.json", "sd15")]
    [InlineData("sd21-unet.json", "sd21")]
    [InlineData("sdxl-unet.json", "sdxl")]
    [InlineData("sdxl-refiner-unet.json", "refiner")]
    [InlineData("sd15-vae.json", "vae")]
    public void EveryRealTensorMapsToADistinctName(string manifest, string config)
    {
        WeightsManifest m = WeightsManifest.Load(Path.Combine(RepoPaths.Root, "weights-manifest", manifest));
        Func<string, string> map = config switch
        {
            "sd15" => n => LdmUnetNames.ToLdm(n, UNet2DConditionConfig.StableDiffusion15),
            "sd21" => n => LdmUnetNames.ToLdm(n, UNet2DConditionConfig.StableDiffusion21),
            "sdxl" => n => LdmUnetNames.ToLdm(n, UNet2DConditionConfig.StableDiffusionXlBase),
            "refiner" => n => LdmUnetNames.ToLdm(n, UNet2DConditionConfig.StableDiffusionXlRefiner),
            _ => n => LdmVaeNames.ToLdm(n, AutoencoderKLConfig.StableDiffusion),
        };
        string[] mapped = m.Tensors.Keys.Select(map).ToArray();
        Assert.Equal(mapped.Length, mapped.Distinct().Count());
    }

    [Fact]
    public void OpenClipQkvAreThirdsOfTheFusedProjection()
    {
        TensorRecipe v = OpenClipNames.ToOpenClip("text_model.encoder.layers.31.self_attn.v_proj.weight", "conditioner.embedders.1.model.", 1280);
        Assert.Equal("conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight", v.Source);
        Assert.Equal((2560, 1280), (v.FirstRow, v.Rows));
        Assert.True(OpenClipNames.ToOpenClip("text_projection.weight", "p.", 1280).Transposed);
        Assert.Equal("p.transformer.resblocks.0.mlp.c_proj.bias", OpenClipNames.ToOpenClip("text_model.encoder.layers.0.mlp.fc2.bias", "p.", 8).Source);
    }
}

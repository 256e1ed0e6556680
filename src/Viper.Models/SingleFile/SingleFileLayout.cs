using Viper.Models.Clip;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Weights;

namespace Viper.Models.SingleFile;

/// <summary>
/// Where each pipeline component's tensors live in a single file of a family, by the diffusers/transformers names the
/// models ask for: the UNet under <c>model.diffusion_model.</c>, the VAE under <c>first_stage_model.</c>, the text
/// encoders under <c>cond_stage_model.</c> (SD1.x CLIP, SD2.x OpenCLIP) or <c>conditioner.embedders.N.</c> (SDXL).
/// </summary>
public static class SingleFileLayout
{
    public const string UnetPrefix = "model.diffusion_model.";
    public const string VaePrefix = "first_stage_model.";

    public static Func<string, TensorRecipe> UnetNames(UNet2DConditionConfig config) => name => new(UnetPrefix + LdmUnetNames.ToLdm(name, config));

    /// <summary>The VAE's names under <paramref name="prefix"/> (a standalone LDM VAE file has none); the mid attention's 1×1 convs squeezed.</summary>
    public static Func<string, TensorRecipe> VaeNames(string prefix, AutoencoderKLConfig config) =>
        name => new(prefix + LdmVaeNames.ToLdm(name, config)) { Squeezed = LdmVaeNames.IsAttentionProjection(name) };

    public static Func<string, TensorRecipe> TextEncoderNames(SingleFileFamily family, string component, ClipTextConfig config)
    {
        (string prefix, bool openClip) = TextEncoder(family, component);
        return openClip ? name => OpenClipNames.ToOpenClip(name, prefix, config.HiddenSize) : name => new(prefix + name);
    }

    /// <summary>Where text encoder <paramref name="component"/> lives in a <paramref name="family"/> file, and whether in OpenCLIP's layout.</summary>
    public static (string Prefix, bool OpenClip) TextEncoder(SingleFileFamily family, string component) => (family, component) switch
    {
        (SingleFileFamily.StableDiffusion1, "text_encoder") => ("cond_stage_model.transformer.", false),
        (SingleFileFamily.StableDiffusion2, "text_encoder") => ("cond_stage_model.model.", true),
        (SingleFileFamily.StableDiffusionXl, "text_encoder") => ("conditioner.embedders.0.transformer.", false),
        (SingleFileFamily.StableDiffusionXl, "text_encoder_2") => ("conditioner.embedders.1.model.", true),
        (SingleFileFamily.StableDiffusionXlRefiner, "text_encoder_2") => ("conditioner.embedders.0.model.", true),
        _ => throw new WeightsException($"a {family.Name()} single file holds no {component}; the config names one (does the config match the file?)"),
    };
}

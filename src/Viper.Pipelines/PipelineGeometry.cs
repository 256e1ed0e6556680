using Viper.Models.Unet;
using Viper.Models.Vae;

namespace Viper.Pipelines;

/// <summary>The image sizes a pipeline accepts, from its UNet and VAE configs alone (no weights read).</summary>
public readonly record struct PipelineGeometry(UNet2DConditionConfig Unet, AutoencoderKLConfig Vae)
{
    /// <summary>Width and height must be multiples of this: the VAE's down factor times the UNet's total downsampling.</summary>
    public int SizeMultiple => Vae.DownFactor * (1 << (Unet.BlockOutChannels.Length - 1));

    /// <summary>The default image size: the UNet's sample_size times the VAE's down factor (512 for SD1.5, 1024 for SDXL).</summary>
    public int DefaultSize => Unet.SampleSize * Vae.DownFactor;

    /// <summary>
    /// Reads the geometry of a diffusers pipeline folder, or of a single file with its config folder (null: the bundled
    /// config of its family), from the base UNet and VAE configs.
    /// </summary>
    public static PipelineGeometry Read(string model, string? configFolder = null)
    {
        using PipelineSource source = PipelineSource.Open(model, configFolder);
        return new(source.UnetConfig, source.VaeConfig);
    }
}

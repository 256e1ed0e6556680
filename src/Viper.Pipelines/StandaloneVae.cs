using Viper.Models.Loading;
using Viper.Models.SingleFile;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>
/// A VAE given on its own (<c>--vae</c>): a diffusers vae folder (config.json + weights), or one file — diffusers names
/// (the fp16-fix SDXL VAE's <c>diffusion_pytorch_model.safetensors</c>), or the original layout with or without the
/// <c>first_stage_model.</c> prefix (A1111's <c>*.vae.safetensors</c>/<c>.pt</c>). A file takes the pipeline's VAE config.
/// </summary>
public static class StandaloneVae
{
    public static AutoencoderKL Load(string path, AutoencoderKLConfig pipelineConfig, IBackend backend, DType dtype, CancellationToken cancellationToken = default)
    {
        if (Directory.Exists(path))
        {
            return AutoencoderKL.Load(path, backend, dtype);
        }

        using ITensorReader reader = SingleFileCheckpoint.OpenTensors(path);
        AutoencoderKLConfig config = pipelineConfig;
        (Func<string, TensorRecipe> map, string prefix, string layout) = Layout(reader, config);
        var components = new List<ComponentTensors>
        {
            new("vae", prefix, PipelineSource.Names(backend, r => new AutoencoderKL(r.Root, config)), map),
        };
        SingleFileCheckpoint.Check(reader, layout, components);
        var used = new HashSet<string>(StringComparer.Ordinal);
        return new AutoencoderKL(new MappedWeights(reader, map, used, backend, config.ForceUpcast ? DType.F32 : dtype, cancellationToken: cancellationToken).Root, config);
    }

    private static (Func<string, TensorRecipe> Map, string Prefix, string Layout) Layout(ITensorReader reader, AutoencoderKLConfig config)
    {
        if (reader.Contains("decoder.up_blocks.0.resnets.0.conv1.weight"))
        {
            return (name => new TensorRecipe(name), "", "a diffusers AutoencoderKL");
        }

        string prefix = reader.Contains("first_stage_model.decoder.conv_in.weight") ? "first_stage_model." : "";
        return reader.Contains(prefix + "decoder.conv_in.weight")
            ? (SingleFileLayout.VaeNames(prefix, config), prefix, "an original-layout (LDM) autoencoder")
            : throw new WeightsException($"{reader.Source}: not a VAE (neither diffusers' decoder.up_blocks.* nor the original decoder.up.* names)");
    }
}

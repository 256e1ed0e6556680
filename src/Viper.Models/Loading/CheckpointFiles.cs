using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Opens a component folder's weights by the names Hugging Face libraries save them under — transformers
/// <c>model</c>, diffusers <c>diffusion_pytorch_model</c> — sharded index first, then the single file, with an
/// optional variant (<c>fp16</c> → <c>model.fp16.safetensors</c>); other safetensors in the folder are not weights.
/// </summary>
public static class CheckpointFiles
{
    public static WeightStore Open(string folder, string baseName, string? variant = null)
    {
        string stem = variant is null ? baseName : $"{baseName}.{variant}";
        foreach (string candidate in new[] { $"{stem}.safetensors.index.json", $"{stem}.safetensors" })
        {
            string path = Path.Combine(folder, candidate);
            if (File.Exists(path))
            {
                return WeightStore.Open(path);
            }
        }

        throw new WeightsException($"{folder}: no {stem}.safetensors or {stem}.safetensors.index.json");
    }
}

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
        if (Find(folder, baseName, variant) is { } path)
        {
            return WeightStore.Open(path);
        }

        string stem = variant is null ? baseName : $"{baseName}.{variant}";
        throw new WeightsException($"{folder}: no {stem}.safetensors or {stem}.safetensors.index.json{Hint(folder, baseName, variant)}");
    }

    /// <summary>
    /// Builds a model from a component folder's weights; a tensor whose shape disagrees with what config.json asks for
    /// is reported with the config keys that hold the disagreeing size (<see cref="ConfigMismatch"/>).
    /// </summary>
    public static T Build<T>(string folder, string baseName, string? variant, Func<WeightStore, T> build)
    {
        using WeightStore store = Open(folder, baseName, variant); // every tensor is copied to the backend
        try
        {
            return build(store);
        }
        catch (WeightsException e) when (e.Tensor is not null)
        {
            throw ConfigMismatch.Explain(e, Path.Combine(folder, "config.json"));
        }
    }

    private static string? Find(string folder, string baseName, string? variant)
    {
        string stem = variant is null ? baseName : $"{baseName}.{variant}";
        return new[] { $"{stem}.safetensors.index.json", $"{stem}.safetensors" }.Select(c => Path.Combine(folder, c)).FirstOrDefault(File.Exists);
    }

    // diffusers downloads often hold only a variant (model.fp16.safetensors), or only the plain file: say which option fits.
    private static string Hint(string folder, string baseName, string? variant)
    {
        if (variant is not null && Find(folder, baseName, null) is not null)
        {
            return $" (the plain {baseName}.safetensors is there: load without a variant)";
        }

        if (!Directory.Exists(folder))
        {
            return "";
        }

        string[] variants = Directory.EnumerateFiles(folder, $"{baseName}.*.safetensors*")
            .Select(f => Path.GetFileName(f)[(baseName.Length + 1)..].Split('.')[0])
            .Where(v => v != "safetensors" && v != variant).Distinct().Order(StringComparer.Ordinal).ToArray();
        return variants.Length == 0 ? "" : $" (found the {string.Join(", ", variants)} variant: pass --variant {variants[0]})";
    }
}

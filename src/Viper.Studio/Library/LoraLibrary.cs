using Viper.Pipelines;
using Viper.Studio.Api;

namespace Viper.Studio.Library;

/// <summary>
/// The LoRAs the studio offers: the .safetensors files directly in <see cref="StudioOptions.LoraFolder"/>, known to the
/// page by name only (the file name without extension). A request names LoRAs from this list; a path never comes from a client.
/// </summary>
public sealed class LoraLibrary(StudioOptions options)
{
    public IReadOnlyList<string> Names => Files().Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The request's LoRAs as files and weights; an unknown name or a weight out of range is a 400 naming the field.</summary>
    public IReadOnlyList<LoraWeight> Resolve(IReadOnlyList<LoraRequest>? requested)
    {
        if (requested is null || requested.Count == 0)
        {
            return [];
        }

        Dictionary<string, string> files = Files();
        var result = new List<LoraWeight>();
        for (int i = 0; i < requested.Count; i++)
        {
            LoraRequest? lora = requested[i];
            if (lora?.Name is not { } name || !files.TryGetValue(name, out string? path))
            {
                throw ApiException.BadRequest($"loras[{i}].name: '{lora?.Name}' is not one of the studio's LoRAs{(files.Count == 0 ? " (it offers none: start it with --lora-dir)" : "")}");
            }

            if (!GenerationLimits.LoraWeight.Contains(lora.Weight))
            {
                throw ApiException.BadRequest(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"loras[{i}].weight: {lora.Weight} is not {GenerationLimits.LoraWeight}"));
            }

            result.Add(new LoraWeight(path, lora.Weight));
        }

        return result;
    }

    private Dictionary<string, string> Files() => options.LoraFolder is { } folder && Directory.Exists(folder)
        ? Directory.EnumerateFiles(folder, "*.safetensors").ToDictionary(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal)
        : new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>A LoRA the page picked: its name in the studio's list and its weight.</summary>
public sealed record LoraRequest(string? Name, float Weight = 1f);

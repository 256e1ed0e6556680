using System.Text.Json;

namespace Viper.Pipelines.Chat;

/// <summary>The parts of a folder's generation_config.json greedy decoding uses: the ids that end a generation.</summary>
public sealed record GenerationConfig(IReadOnlyList<int> EosTokenIds)
{
    /// <summary>Reads generation_config.json (<c>eos_token_id</c>: one id or a list); without the file, the tokenizer's EOS.</summary>
    public static GenerationConfig Load(string folder, int tokenizerEos)
    {
        string path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path))
        {
            return new GenerationConfig([tokenizerEos]);
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            if (!doc.RootElement.TryGetProperty("eos_token_id", out JsonElement eos))
            {
                return new GenerationConfig([tokenizerEos]);
            }

            return new GenerationConfig(eos.ValueKind == JsonValueKind.Array ? [.. eos.EnumerateArray().Select(e => e.GetInt32())] : [eos.GetInt32()]);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: eos_token_id must be an id or a list of ids ({e.Message})", e);
        }
    }
}

using System.Text.Json.Nodes;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Turns "tensor X has shape A, expected B" into an error a user can act on: a model's expected shapes come from its
/// config.json, so the config keys whose value is the expected size (and not the stored one) are the ones that
/// disagree with the checkpoint — typically a config.json from another model next to the weights.
/// </summary>
public static class ConfigMismatch
{
    public static WeightsException Explain(WeightsException e, string configPath)
    {
        int[] stored = e.StoredShape!.ToArray(), expected = e.ExpectedShape!.ToArray();
        string head = $"{e.Message}: config.json ({configPath}) and the weights disagree";
        if (stored.Length != expected.Length || !File.Exists(configPath))
        {
            return new WeightsException(head, e.Tensor!, e.StoredShape, e.ExpectedShape);
        }

        JsonObject? config = TryParse(configPath);
        var clues = new List<string>();
        for (int i = 0; i < stored.Length && config is not null; i++)
        {
            if (stored[i] != expected[i])
            {
                string[] keys = KeysHolding(config, expected[i]).Take(3).ToArray();
                clues.Add(keys.Length == 0
                    ? $"the model expects {expected[i]} where the tensor has {stored[i]}"
                    : $"{string.Join(" / ", keys)} = {expected[i]} in config.json, the tensor has {stored[i]}");
            }
        }

        return new WeightsException(clues.Count == 0 ? head : $"{head} ({string.Join("; ", clues)})", e.Tensor!, e.StoredShape, e.ExpectedShape);
    }

    private static JsonObject? TryParse(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    // Top-level keys whose number, or one of whose list entries, equals the size (transformers nests sub-configs one level).
    private static IEnumerable<string> KeysHolding(JsonObject config, int size, string prefix = "")
    {
        foreach ((string key, JsonNode? value) in config)
        {
            bool holds = value switch
            {
                JsonValue v => v.TryGetValue(out double d) && d == size,
                JsonArray a => a.Any(x => x is JsonValue xv && xv.TryGetValue(out double d) && d == size),
                _ => false,
            };
            if (holds)
            {
                yield return prefix + key;
            }
            else if (value is JsonObject nested && prefix.Length == 0)
            {
                foreach (string inner in KeysHolding(nested, size, key + "."))
                {
                    yield return inner;
                }
            }
        }
    }
}

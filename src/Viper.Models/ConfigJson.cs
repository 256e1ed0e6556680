using System.Text.Json;

namespace Viper.Models;

/// <summary>Reads Hugging Face / diffusers config.json files into config records (snake_case fields, unknown fields ignored).</summary>
internal static class ConfigJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>
    /// The record in <paramref name="path"/>; when the file is a composite config (CLIPModel's), the object under
    /// <paramref name="nestedKey"/> instead.
    /// </summary>
    public static T Read<T>(string path, string? nestedKey = null)
    {
        if (!File.Exists(path))
        {
            throw new ModelConfigException($"{path} is missing");
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = doc.RootElement;
            if (nestedKey is not null && root.TryGetProperty(nestedKey, out JsonElement nested))
            {
                root = nested;
            }

            return root.Deserialize<T>(Options) ?? throw new ModelConfigException($"{path} is empty");
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path} is not a valid config: {e.Message}", e);
        }
    }

    public static void Require(bool condition, string config, string what)
    {
        if (!condition)
        {
            throw new ModelConfigException($"{config}: {what}");
        }
    }
}

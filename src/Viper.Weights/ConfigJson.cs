using System.Text.Json;

namespace Viper.Weights;

/// <summary>Reads Hugging Face / diffusers config.json files (models and schedulers) into config records (snake_case fields, unknown fields ignored).</summary>
public static class ConfigJson
{
    /// <summary>The options configs are read with, for records nested in a composite config.</summary>
    public static JsonSerializerOptions SerializerOptions => Options;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString |
            System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    // Python's json module writes bare Infinity/-Infinity/NaN (diffusers' lambda_min_clipped = -inf); JSON has no such
    // literals, so they are quoted before parsing, which the number handling above then reads.
    private static readonly System.Text.RegularExpressions.Regex BareNonFinite =
        new(@"(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])", System.Text.RegularExpressions.RegexOptions.Compiled);

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
            using JsonDocument doc = JsonDocument.Parse(BareNonFinite.Replace(File.ReadAllText(path), "\"$1\""));
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

    /// <summary>The top-level keys <paramref name="path"/> states (read after <see cref="Read{T}"/> has validated the file).</summary>
    public static IReadOnlySet<string> Keys(string path)
    {
        using JsonDocument doc = JsonDocument.Parse(BareNonFinite.Replace(File.ReadAllText(path), "\"$1\""));
        return doc.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
    }

    public static void Require(bool condition, string config, string what)
    {
        if (!condition)
        {
            throw new ModelConfigException($"{config}: {what}");
        }
    }
}

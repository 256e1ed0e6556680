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
    public static T Read<T>(string path, string? nestedKey = null) => Parse(path, nestedKey, root => Deserialize<T>(root, path));

    /// <summary>
    /// The record in <paramref name="path"/> and the keys the file states, from one read: where a key's absence means
    /// something (a scheduler class's own default), not just the record's default value.
    /// </summary>
    public static (T Value, IReadOnlySet<string> Keys) ReadStated<T>(string path) => Parse(path, null, root =>
        (Deserialize<T>(root, path), (IReadOnlySet<string>)root.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal)));

    private static TResult Parse<TResult>(string path, string? nestedKey, Func<JsonElement, TResult> read)
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

            return read(root);
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path} is not a valid config: {e.Message}", e);
        }
    }

    private static T Deserialize<T>(JsonElement root, string path) =>
        root.Deserialize<T>(Options) ?? throw new ModelConfigException($"{path} is empty");

    public static void Require(bool condition, string config, string what)
    {
        if (!condition)
        {
            throw new ModelConfigException($"{config}: {what}");
        }
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Viper.Pipelines;

/// <summary>A user's visual preference: liked (VP+) and disliked (VP−) visual attributes, as the ViPer extractor states them.</summary>
public sealed partial record VisualPreference
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public VisualPreference(IReadOnlyList<string> likes, IReadOnlyList<string> dislikes)
    {
        Likes = Clean(likes);
        Dislikes = Clean(dislikes);
    }

    [JsonPropertyName("likes")]
    public IReadOnlyList<string> Likes { get; }

    [JsonPropertyName("dislikes")]
    public IReadOnlyList<string> Dislikes { get; }

    public bool IsEmpty => Likes.Count == 0 && Dislikes.Count == 0;

    /// <summary>Comma-separated attribute lists ("watercolor, muted tones") → a preference.</summary>
    public static VisualPreference FromLists(string? likes, string? dislikes) => new(Split(likes), Split(dislikes));

    /// <summary>
    /// The extractor's text: "Liked Art Features: a, b, … Disliked Art Features: c, d, …" (either part may be missing;
    /// case and line breaks do not matter).
    /// </summary>
    public static VisualPreference ParseExtractorOutput(string text)
    {
        Match liked = LikedPattern().Match(text);
        Match disliked = DislikedPattern().Match(text);
        if (!liked.Success && !disliked.Success)
        {
            throw new FormatException("the text has neither 'Liked Art Features:' nor 'Disliked Art Features:'");
        }

        return FromLists(liked.Success ? liked.Groups[1].Value : null, disliked.Success ? disliked.Groups[1].Value : null);
    }

    /// <summary>Reads {"likes": [...], "dislikes": [...]} (lists of strings, or comma-separated strings).</summary>
    public static VisualPreference Load(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"{path}: expected a JSON object with \"likes\" and \"dislikes\"");
            }

            return new VisualPreference(Read(doc.RootElement, "likes", path), Read(doc.RootElement, "dislikes", path));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>The attributes joined as the prompt text the text encoders see.</summary>
    public static string Join(IEnumerable<string> attributes) => string.Join(", ", attributes);

    private static IReadOnlyList<string> Read(JsonElement root, string key, string path)
    {
        if (!root.TryGetProperty(key, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => Split(value.GetString()),
            JsonValueKind.Array when value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String) =>
                value.EnumerateArray().Select(v => v.GetString()!).ToArray(),
            _ => throw new FormatException($"{path}: \"{key}\" must be a list of strings or a comma-separated string"),
        };
    }

    private static string[] Split(string? list) => list is null ? [] : list.Split(',');

    private static IReadOnlyList<string> Clean(IEnumerable<string> attributes) =>
        attributes.Select(a => a.Trim().TrimEnd('.').Trim()).Where(a => a.Length > 0).ToArray();

    [GeneratedRegex(@"liked\s+art\s+features\s*:\s*(.*?)(?=disliked\s+art\s+features\s*:|$)", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex LikedPattern();

    [GeneratedRegex(@"disliked\s+art\s+features\s*:\s*(.*)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex DislikedPattern();
}

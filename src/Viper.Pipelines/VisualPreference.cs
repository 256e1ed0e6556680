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

    [JsonIgnore]
    public bool IsEmpty => Likes.Count == 0 && Dislikes.Count == 0;

    /// <summary>Comma-separated attribute lists ("watercolor, muted tones") → a preference.</summary>
    public static VisualPreference FromLists(string? likes, string? dislikes) => new(Split(likes), Split(dislikes));

    /// <summary>
    /// The extractor's text, parsed as the authors' extract_features (ViPer.py): what follows the last "\nAssistant:",
    /// then the "Liked Art Features:" and "Disliked Art Features:" sections, each split on ", "; an attribute in both
    /// lists is dropped from both. Unlike the authors' sets, each list keeps its first-occurrence order (so a seed
    /// reproduces the same shuffle), repeats are dropped, and a missing section is an empty list rather than a slice of
    /// the other; a text with neither section is a FormatException.
    /// </summary>
    public static VisualPreference ParseExtractorOutput(string text)
    {
        int assistant = text.LastIndexOf("\nAssistant:", StringComparison.Ordinal);
        string answer = (assistant < 0 ? text : text[(assistant + "\nAssistant:".Length)..]).Trim();
        Match liked = LikedPattern().Match(answer);
        Match disliked = DislikedPattern().Match(answer);
        if (!liked.Success && !disliked.Success)
        {
            throw new FormatException("the text has neither 'Liked Art Features:' nor 'Disliked Art Features:'");
        }

        string[] likes = Sections(liked), dislikes = Sections(disliked);
        string[] both = [.. likes.Intersect(dislikes, StringComparer.Ordinal)];
        return new VisualPreference([.. likes.Except(both, StringComparer.Ordinal)], [.. dislikes.Except(both, StringComparer.Ordinal)]);

        static string[] Sections(Match m) => m.Success ? [.. m.Groups[1].Value.Trim().Split(", ").Select(a => a.Trim()).Where(a => a.Length > 0).Distinct(StringComparer.Ordinal)] : [];
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

    // The attributes as the text encoders will see them: trimmed (the authors' randomize_vp strips each), empty ones dropped.
    private static IReadOnlyList<string> Clean(IEnumerable<string> attributes) =>
        attributes.Select(a => a.Trim()).Where(a => a.Length > 0).ToArray();

    [GeneratedRegex(@"(?<!dis)liked\s+art\s+features\s*:\s*(.*?)(?=disliked\s+art\s+features\s*:|$)", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex LikedPattern();

    [GeneratedRegex(@"disliked\s+art\s+features\s*:\s*(.*)$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex DislikedPattern();
}

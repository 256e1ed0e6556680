using System.Text.Json;

namespace Viper.Pipelines.Preferences;

/// <summary>An image a user commented on, and the comment in their own words.</summary>
public sealed record CommentedImage(string ImagePath, string Comment)
{
    /// <summary>About this many comments are enough for the extractor (the ViPer paper's finding); fewer get a warning.</summary>
    public const int Recommended = 8;

    /// <summary>
    /// Reads a comments file: <c>[{"image": "path", "comment": "text"}, …]</c>, image paths relative to the file. Every
    /// entry is checked — a string image that exists, a non-empty comment — and the first problem is named.
    /// </summary>
    public static IReadOnlyList<CommentedImage> Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: the comments file does not exist", path);
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.GetArrayLength() == 0)
            {
                throw new InvalidDataException($"{path}: expected a non-empty JSON array of {{\"image\": …, \"comment\": …}}");
            }

            return [.. doc.RootElement.EnumerateArray().Select((e, i) => Entry(e, i, path, folder))];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    private static CommentedImage Entry(JsonElement e, int index, string path, string folder)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("image", out JsonElement image) || image.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("comment", out JsonElement comment) || comment.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"{path}: entry {index + 1} needs a string \"image\" and a string \"comment\"");
        }

        string file = Path.GetFullPath(Path.Combine(folder, image.GetString()!));
        if (!File.Exists(file))
        {
            throw new FileNotFoundException($"{path}: entry {index + 1}'s image {file} does not exist", file);
        }

        string text = comment.GetString()!.Trim();
        return text.Length > 0 ? new CommentedImage(file, text) : throw new InvalidDataException($"{path}: entry {index + 1}'s comment is empty");
    }
}

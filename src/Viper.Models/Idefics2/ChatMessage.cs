using System.Text.Json;
using System.Text.Json.Serialization;

namespace Viper.Models.Idefics2;

/// <summary>One chat turn as transformers' chat templates take it: a role and a list of text and image parts.</summary>
public sealed record ChatMessage(string Role, IReadOnlyList<ChatPart> Content)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static ChatMessage User(params ChatPart[] content) => new("user", content);

    public static ChatMessage Assistant(string text) => new("assistant", [ChatPart.Text(text)]);

    /// <summary>
    /// Reads a messages file: <c>[{"role": "user", "content": [{"type": "text", "text": "…"}, {"type": "image"}]}]</c>;
    /// a message's content may also be a plain string.
    /// </summary>
    public static IReadOnlyList<ChatMessage> ParseList(string json, string source)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{source}: expected a JSON array of messages");
            }

            return [.. doc.RootElement.EnumerateArray().Select((m, i) => Parse(m, $"{source}: message {i}"))];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
    }

    private static ChatMessage Parse(JsonElement m, string where)
    {
        if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String
            || !m.TryGetProperty("content", out JsonElement content))
        {
            throw new InvalidDataException($"{where}: needs a string \"role\" and a \"content\"");
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return new ChatMessage(role.GetString()!, [ChatPart.Text(content.GetString()!)]);
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{where}: \"content\" must be a string or a list of parts");
        }

        return new ChatMessage(role.GetString()!, [.. content.EnumerateArray().Select(p => p.Deserialize<ChatPart>(Json) is { } part && part.IsValid
            ? part : throw new InvalidDataException($"{where}: a part must be {{\"type\": \"text\", \"text\": …}} or {{\"type\": \"image\"}}"))]);
    }
}

/// <summary>A text or image part of a <see cref="ChatMessage"/>.</summary>
public sealed record ChatPart([property: JsonPropertyName("type")] string Type, [property: JsonPropertyName("text")] string? Value = null)
{
    public static ChatPart Text(string text) => new("text", text);

    public static ChatPart Image() => new("image");

    internal bool IsValid => Type == "image" || (Type == "text" && Value is not null);
}

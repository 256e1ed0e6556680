using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Imaging;
using Viper.Models.Idefics2;
using Viper.Pipelines.Chat;
using Viper.Runtime;

namespace Viper.Pipelines.Preferences;

/// <summary>
/// ViPer's visual preference extractor (EPFL-VILAB/ViPer ViPer.py): IDEFICS2-8b with the VPE-ViPer adapter reads images
/// and a user's comments on them and writes the liked and disliked visual attributes. The prompt, the processor settings
/// (longest edge 448, shortest 378, no splitting) and the greedy generation (2000 new tokens, repetition penalty 0.99)
/// are the authors'.
/// </summary>
public sealed class PreferenceExtractor : IDisposable
{
    /// <summary>ViPer.py's prompt_template, its indentation included (the adapter was trained on it).</summary>
    public const string Instruction = """
        I will provide a set of artworks along with accompanying comments from a person. Analyze these artworks and the comments on them and identify artistic features such as present or mentioned colors, style, composition, mood, medium, texture, brushwork, lighting, shadow effects, perspective, and other noteworthy elements.

            Your task is to extract the artistic features the person likes and dislikes based on both the artworks' features and the person's comments. Focus solely on artistic aspects and refrain from considering subject matter.

            If the person expresses a preference for a specific aspect without clearly stating its category (e.g., appreciating the colors without specifying which colors), identify these specific features from the images directly to make the person's preference understandable without needing to see the artwork.

            Your output should consist of two concise lists of keywords: one listing the specific art features the person likes and another listing the specific features they dislike (specified in keyword format without using sentences).

            Here are the images and their corresponding comments:
            
        """;

    private PreferenceExtractor(Idefics2Chat chat) => Chat = chat;

    public Idefics2Chat Chat { get; }

    /// <summary>The authors' generation settings.</summary>
    public static ChatOptions DefaultOptions { get; } = new() { MaxNewTokens = 2000, RepetitionPenalty = 0.99f };

    /// <summary>IDEFICS2 from <paramref name="model"/> with the extractor adapter merged, and the authors' image settings.</summary>
    public static PreferenceExtractor Load(string model, string adapter, IBackend backend, DType dtype,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default, DType? linearWeights = null) =>
        new(Idefics2Chat.Load(model, backend, dtype, new ChatLoadOptions { AdapterFolder = adapter, Processor = ViperImageSettings, LinearWeights = linearWeights },
            progress, cancellationToken));

    /// <summary>ViPer's processor overrides: longest edge 448, shortest 378, no image splitting.</summary>
    public static Idefics2ImageProcessor ViperImageSettings(Idefics2ImageProcessor folder) =>
        folder with { LongestEdge = 448, ShortestEdge = 378, DoImageSplitting = false };

    /// <summary>The rendered prompt: the instruction, then "&lt;image&gt;Comment k: …" per image, through the chat template.</summary>
    public static string Prompt(IReadOnlyList<string> comments)
    {
        if (comments.Count == 0)
        {
            throw new ArgumentException("the extractor needs at least one commented image");
        }

        var content = new List<ChatPart> { ChatPart.Text(Instruction) };
        for (int i = 0; i < comments.Count; i++)
        {
            content.Add(ChatPart.Image());
            content.Add(ChatPart.Text($"Comment {i + 1}: {comments[i]}"));
        }

        return Idefics2Prompt.RenderChat([new ChatMessage("user", content)]);
    }

    /// <summary>
    /// Extracts the preference from commented images; <paramref name="onText"/> sees the extractor's text as it decodes.
    /// Output without the two sections is a <see cref="PreferenceParseException"/> that carries the raw text.
    /// </summary>
    public ExtractedPreference Extract(IReadOnlyList<CommentedImage> items, ChatOptions? options = null, Action<string>? onText = null,
        CancellationToken cancellationToken = default) =>
        Extract(items, [.. items.Select(i => ImageFile.Load(i.ImagePath))], options, onText, cancellationToken);

    /// <summary>As above, with the items' images already decoded (in the same order).</summary>
    public ExtractedPreference Extract(IReadOnlyList<CommentedImage> items, IReadOnlyList<RgbImage> images, ChatOptions? options = null,
        Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        if (images.Count != items.Count)
        {
            throw new ArgumentException($"{images.Count} decoded images for {items.Count} commented images");
        }

        options ??= DefaultOptions;
        ChatPrompt prompt = Chat.Prepare(Prompt([.. items.Select(i => i.Comment)]), images);
        using ChatSession session = Chat.Prefill(prompt, options.MaxNewTokens, cancellationToken);
        var text = new System.Text.StringBuilder();
        foreach (GeneratedToken token in session.Generate(options, cancellationToken))
        {
            text.Append(token.Text);
            onText?.Invoke(token.Text);
        }

        string raw = text.ToString();
        VisualPreference preference;
        try
        {
            preference = VisualPreference.ParseExtractorOutput(raw);
        }
        catch (FormatException e)
        {
            throw new PreferenceParseException(e.Message, raw);
        }

        return new ExtractedPreference(preference, raw, items);
    }

    public void Dispose() => Chat.Dispose();
}

/// <summary>A preference the extractor found, with the text it wrote and the comments it read.</summary>
public sealed record ExtractedPreference(VisualPreference Preference, string RawText, IReadOnlyList<CommentedImage> Comments)
{
    /// <summary>
    /// Writes the preferences file: <c>likes</c> and <c>dislikes</c> (what <see cref="VisualPreference.Load"/> and
    /// <c>viper generate --preferences</c> read) and <c>source</c>: the comments, the models and the extractor's text.
    /// </summary>
    public void Save(string path, string? commentsFile, string extractor, string adapter)
    {
        var json = new JsonObject
        {
            ["likes"] = new JsonArray([.. Preference.Likes.Select(l => (JsonNode)l)]),
            ["dislikes"] = new JsonArray([.. Preference.Dislikes.Select(d => (JsonNode)d)]),
            ["source"] = new JsonObject
            {
                ["comments"] = commentsFile, ["extractor"] = extractor, ["adapter"] = adapter, ["text"] = RawText,
                ["images"] = new JsonArray([.. Comments.Select(c => (JsonNode)new JsonObject { ["image"] = c.ImagePath, ["comment"] = c.Comment })]),
            },
        };
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}

/// <summary>The extractor wrote no "Liked Art Features:" / "Disliked Art Features:" sections; <see cref="RawText"/> is what it wrote.</summary>
public sealed class PreferenceParseException(string message, string rawText) : FormatException($"{message}; the extractor wrote: {rawText}")
{
    public string RawText { get; } = rawText;
}

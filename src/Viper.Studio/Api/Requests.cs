using Viper.Pipelines;
using Viper.Studio.Library;

namespace Viper.Studio.Api;

/// <summary>A picked image and the user's comment on it.</summary>
public sealed record CommentRequest(string? Image, string? Comment);

/// <summary>POST /api/extract: the commented images, in the order the extractor reads them.</summary>
public sealed record ExtractRequest(IReadOnlyList<CommentRequest>? Items)
{
    public const int MaxItems = 24;
    public const int MaxCommentLength = 2000;

    public IReadOnlyList<(StoredImage Image, string Comment)> Resolve(ImageLibrary library)
    {
        if (Items is null || Items.Count == 0)
        {
            throw ApiException.BadRequest("items: pick at least one image and comment on it");
        }

        if (Items.Count > MaxItems)
        {
            throw ApiException.BadRequest($"items: at most {MaxItems} commented images, not {Items.Count}");
        }

        return [.. Items.Select((item, i) =>
        {
            StoredImage image = library.Find(item?.Image) ?? throw ApiException.BadRequest($"items[{i}].image: no image with id '{item?.Image}'");
            string comment = item!.Comment?.Trim() ?? "";
            return comment.Length switch
            {
                0 => throw ApiException.BadRequest($"items[{i}].comment: the comment on {image.Label} is empty"),
                > MaxCommentLength => throw ApiException.BadRequest($"items[{i}].comment: at most {MaxCommentLength} characters"),
                _ => (image, comment),
            };
        })];
    }
}

/// <summary>PUT /api/preferences and the preference of a generation: liked and disliked attributes.</summary>
public sealed record PreferenceRequest(IReadOnlyList<string>? Likes, IReadOnlyList<string>? Dislikes)
{
    public const int MaxAttributes = 64;
    public const int MaxAttributeLength = 200;

    public VisualPreference ToPreference(string field = "")
    {
        Check(Likes, field + "likes");
        Check(Dislikes, field + "dislikes");
        return new VisualPreference(Likes ?? [], Dislikes ?? []);
    }

    private static void Check(IReadOnlyList<string>? attributes, string name)
    {
        if (attributes is null)
        {
            return;
        }

        if (attributes.Count > MaxAttributes)
        {
            throw ApiException.BadRequest($"{name}: at most {MaxAttributes} attributes, not {attributes.Count}");
        }

        for (int i = 0; i < attributes.Count; i++)
        {
            if (attributes[i] is null || attributes[i].Length > MaxAttributeLength || attributes[i].Contains(','))
            {
                throw ApiException.BadRequest($"{name}[{i}]: an attribute is a string of at most {MaxAttributeLength} characters without commas");
            }
        }
    }
}

/// <summary>
/// POST /api/generate: the personalized image (the preference at β) and the plain one (same seed, no preference), scored
/// against the images the user marked liked and disliked when a metric is configured.
/// </summary>
public sealed record GenerateRequest(
    string? Prompt,
    string? NegativePrompt = null,
    ulong Seed = 0,
    int? Width = null,
    int? Height = null,
    int Steps = 30,
    float Beta = 0.85f,
    float Guidance = 5f,
    PreferenceRequest? Preference = null,
    IReadOnlyList<string>? Liked = null,
    IReadOnlyList<string>? Disliked = null,
    IReadOnlyList<LoraRequest>? Loras = null)
{
    public const int MaxPromptLength = 2000;

    public GenerationRequest ToRequest(PipelineGeometry geometry, VisualPreference preference, LoraLibrary loras)
    {
        if (string.IsNullOrWhiteSpace(Prompt))
        {
            throw ApiException.BadRequest("prompt: write what to generate");
        }

        if (Prompt.Length > MaxPromptLength || NegativePrompt?.Length > MaxPromptLength)
        {
            throw ApiException.BadRequest($"prompt: at most {MaxPromptLength} characters");
        }

        // The limits every caller shares (GenerationLimits), in the page's words: the field, the value, the range.
        foreach ((int? size, string name) in new[] { (Width, "width"), (Height, "height") })
        {
            if (size is { } s && (!GenerationLimits.Size.Contains(s) || s % geometry.SizeMultiple != 0))
            {
                throw ApiException.BadRequest($"{name}: {s} is not a multiple of {geometry.SizeMultiple} {GenerationLimits.Size} (this model's sizes)");
            }
        }

        Require(GenerationLimits.Steps, Steps, "steps");
        Require(GenerationLimits.Beta, Beta, "beta");
        Require(GenerationLimits.Guidance, Guidance, "guidance");

        return new GenerationRequest
        {
            Prompt = Prompt.Trim(), NegativePrompt = NegativePrompt, Seed = Seed, Width = Width, Height = Height, Steps = Steps,
            BetaPositive = Beta, BetaNegative = Beta, Guidance = Guidance, Preference = preference, Loras = loras.Resolve(Loras),
        };
    }

    private static void Require<T>(Limit<T> limit, T value, string field)
        where T : struct, IComparable<T>, IFormattable
    {
        if (!limit.Contains(value))
        {
            throw ApiException.BadRequest(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{field}: {value} is not {limit}"));
        }
    }

    /// <summary>The marked images as (disliked, liked) pairs for the metric: as many pairs as the shorter list has.</summary>
    public (IReadOnlyList<StoredImage> Disliked, IReadOnlyList<StoredImage> Liked) MetricContext(ImageLibrary library)
    {
        StoredImage[] liked = Marked(library, Liked, "liked"), disliked = Marked(library, Disliked, "disliked");
        int pairs = Math.Min(liked.Length, disliked.Length);
        return (disliked[..pairs], liked[..pairs]);
    }

    internal static StoredImage[] Marked(ImageLibrary library, IReadOnlyList<string>? ids, string name) =>
        [.. (ids ?? []).Select((id, i) => library.Find(id) ?? throw ApiException.BadRequest($"{name}[{i}]: no image with id '{id}'"))];
}

/// <summary>
/// Query images scored by the proxy metric against images a user liked and disliked (paired in order: as many pairs as the
/// shorter list has), all named by library id.
/// </summary>
public sealed record ScoreRequest(IReadOnlyList<string>? Liked, IReadOnlyList<string>? Disliked, IReadOnlyList<string>? Query)
{
    public const int MaxQueries = 24;

    public (IReadOnlyList<StoredImage> Disliked, IReadOnlyList<StoredImage> Liked, IReadOnlyList<StoredImage> Query) Resolve(ImageLibrary library)
    {
        StoredImage[] liked = GenerateRequest.Marked(library, Liked, "liked"), disliked = GenerateRequest.Marked(library, Disliked, "disliked");
        int pairs = Math.Min(liked.Length, disliked.Length);
        if (pairs == 0)
        {
            throw ApiException.BadRequest("liked, disliked: name at least one liked and one disliked image");
        }

        StoredImage[] query = GenerateRequest.Marked(library, Query, "query");
        return query.Length is 0 or > MaxQueries
            ? throw ApiException.BadRequest($"query: 1 to {MaxQueries} images to score")
            : (disliked[..pairs], liked[..pairs], query);
    }
}

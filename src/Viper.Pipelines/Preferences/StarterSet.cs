using System.Text.Json;
using Viper.Imaging;

namespace Viper.Pipelines.Preferences;

/// <summary>One image of a starter set: its file, the attribute category its prompt explores, the prompt and the seed.</summary>
public sealed record StarterImage(string File, string Category, string Prompt, ulong Seed);

/// <summary>
/// A varied set of images for a person to react to before the extractor runs (the ViPer paper shows people about 50 and
/// asks for comments on those that provoke a reaction). The prompts span the attribute categories the paper's extractor
/// names — style, colour palette, composition, mood, medium, texture, brushwork, lighting, shadow, perspective — five
/// subjects each, so that the set differs in every category rather than in subject. Each image's prompt and seed are
/// recorded in <c>starter-set.json</c> beside the PNGs (and in each PNG's parameters chunk).
/// </summary>
public static class StarterSet
{
    public const string ManifestName = "starter-set.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// The prompts in generation order: one per category in turn (the first ten span every category, the first twenty
    /// two subjects of each…), so a set shorter than 50 still varies in every category.
    /// </summary>
    public static IReadOnlyList<(string Category, string Prompt)> Prompts { get; } =
        [.. ByCategory.Select((p, i) => (p, i)).OrderBy(e => e.i % PerCategory).ThenBy(e => e.i / PerCategory).Select(e => e.p)];

    private const int PerCategory = 5;

    // Five subjects per category, grouped by category for reading.
    private static (string Category, string Prompt)[] ByCategory =>
    [
        ("style", "a lighthouse on a cliff, ukiyo-e woodblock print"),
        ("style", "a city street at dusk, art nouveau poster"),
        ("style", "a fox in a forest, cubist painting"),
        ("style", "a sailing ship, pixel art"),
        ("style", "a portrait of an old fisherman, baroque oil painting"),
        ("colour palette", "a desert canyon, pastel pink and mint palette"),
        ("colour palette", "a jazz club interior, saturated neon magenta and cyan"),
        ("colour palette", "a mountain village, muted earth tones"),
        ("colour palette", "a koi pond, monochrome blue"),
        ("colour palette", "a market stall with fruit, warm complementary orange and teal"),
        ("composition", "a lone tree in a vast snowy field, minimalist composition with negative space"),
        ("composition", "a crowded harbour, symmetrical composition"),
        ("composition", "a cat on a windowsill, rule of thirds, off-centre subject"),
        ("composition", "a library with endless shelves, one-point perspective leading lines"),
        ("composition", "a bouquet of flowers, dense all-over pattern filling the frame"),
        ("mood", "an abandoned carousel in fog, melancholic and eerie"),
        ("mood", "children flying kites on a beach, joyful and carefree"),
        ("mood", "a storm over the sea, dramatic and ominous"),
        ("mood", "a tea house in the rain, calm and serene"),
        ("mood", "a carnival at night, chaotic and energetic"),
        ("medium", "a heron by a river, watercolor on rough paper"),
        ("medium", "a cathedral facade, charcoal drawing"),
        ("medium", "a bowl of lemons, gouache illustration"),
        ("medium", "a robot in a garden, 3d render"),
        ("medium", "a horse in a meadow, stained glass"),
        ("texture", "a castle on a hill, thick impasto texture"),
        ("texture", "an owl, embroidered textile"),
        ("texture", "a forest path, smooth airbrushed gradients"),
        ("texture", "a fishing village, torn paper collage"),
        ("texture", "a teapot, glossy ceramic with crackle glaze"),
        ("brushwork", "sunflowers in a vase, expressive swirling brushstrokes"),
        ("brushwork", "a river at dawn, loose impressionist dabs of paint"),
        ("brushwork", "a bamboo grove, sumi-e ink with single confident strokes"),
        ("brushwork", "a dancer, pointillism made of tiny dots"),
        ("brushwork", "a harbour at noon, precise photorealistic painting with invisible brushwork"),
        ("lighting", "a kitchen table, soft window light in the morning"),
        ("lighting", "a street musician, golden hour backlight"),
        ("lighting", "a mechanic in a garage, harsh overhead fluorescent light"),
        ("lighting", "a campfire in the woods, warm firelight in darkness"),
        ("lighting", "a glass sculpture, studio lighting with rim light"),
        ("shadow", "a staircase, chiaroscuro with deep shadows"),
        ("shadow", "a courtyard with palm trees, long hard noon shadows"),
        ("shadow", "a face behind venetian blinds, film noir striped shadows"),
        ("shadow", "a snowy town square, flat shadowless overcast light"),
        ("shadow", "a chess board, dramatic cast shadows from a single candle"),
        ("perspective", "a skyscraper, worm's-eye view"),
        ("perspective", "a busy crossroads, bird's-eye view from directly above"),
        ("perspective", "a ladybug on a leaf, extreme macro close-up"),
        ("perspective", "a valley with a river, wide panoramic vista"),
        ("perspective", "a room interior, fisheye lens distortion"),
    ];

    /// <summary>
    /// Generates the first <paramref name="count"/> prompts' images (in <see cref="Prompts"/>' interleaved order) into <paramref name="folder"/> (<c>NNN.png</c>, seed
    /// <c>seed + i</c>) and writes the manifest; <paramref name="onImage"/> sees each one as it is saved.
    /// </summary>
    public static IReadOnlyList<StarterImage> Generate(ViperPipeline pipeline, GenerationRequest template, string folder, int count,
        Action<StarterImage, int, int>? onImage = null, CancellationToken cancellationToken = default)
    {
        if (count < 1 || count > Prompts.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"a starter set has 1 to {Prompts.Count} images");
        }

        Directory.CreateDirectory(folder);
        var written = new List<StarterImage>();
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (string category, string prompt) = Prompts[i];
            ulong seed = template.Seed + (ulong)i;
            GenerationResult result = pipeline.Generate(template with { Prompt = prompt, Seed = seed, Batch = 1, Preference = null }, cancellationToken: cancellationToken);
            var image = new StarterImage($"{i:D3}.png", category, prompt, seed);
            PngWriter.Write(Path.Combine(folder, image.File), result.Images[0], new Dictionary<string, string>
            {
                ["parameters"] = $"prompt: {prompt}\ncategory: {category}\nseed: {seed}, steps: {template.Steps}, guidance: {template.Guidance}, scheduler: {result.Scheduler}, size: {result.Width}x{result.Height}",
            });
            written.Add(image);
            File.WriteAllText(Path.Combine(folder, ManifestName), JsonSerializer.Serialize(new { images = written }, Json) + "\n");
            onImage?.Invoke(image, i + 1, count);
        }

        return written;
    }

    /// <summary>The manifest of a starter-set folder by file name; empty when the folder has none (any folder of images works).</summary>
    public static IReadOnlyDictionary<string, StarterImage> ReadManifest(string folder)
    {
        string path = Path.Combine(folder, ManifestName);
        if (!File.Exists(path))
        {
            return new Dictionary<string, StarterImage>();
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            StarterImage[] images = doc.RootElement.GetProperty("images").Deserialize<StarterImage[]>(Json) ?? [];
            return images.Where(i => i.File is not null).ToDictionary(i => Path.GetFileName(i.File), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a starter-set manifest ({e.Message})", e);
        }
    }
}

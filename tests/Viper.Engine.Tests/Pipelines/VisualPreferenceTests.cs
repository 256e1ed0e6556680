using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines;

namespace Viper.Engine.Tests.Pipelines;

public class VisualPreferenceTests
{
    [Fact]
    public void ParsesTheExtractorsText()
    {
        VisualPreference p = VisualPreference.ParseExtractorOutput(
            "Liked Art Features: vibrant colors, Impressionism, soft light.\nDisliked Art Features: dark tones, clutter");
        Assert.Equal(["vibrant colors", "Impressionism", "soft light."], p.Likes); // the authors keep the period
        Assert.Equal(["dark tones", "clutter"], p.Dislikes);
        Assert.Throws<FormatException>(() => VisualPreference.ParseExtractorOutput("I like cats"));
    }

    [Theory]
    [InlineData("User: comments<end_of_utterance>\nAssistant: Liked Art Features: pastel tones, pastel tones,  loose brushwork \n\nDisliked Art Features: neon, pastel tones, hard shadows",
        new[] { "loose brushwork" }, new[] { "neon", "hard shadows" })] // repeats dropped, shared attribute dropped from both, spaces trimmed
    [InlineData("Liked Art Features: watercolor,ink wash, muted palette\nDisliked Art Features: ", new[] { "watercolor,ink wash", "muted palette" }, new string[0])]
    [InlineData("Disliked Art Features: clutter, glossy finish", new string[0], new[] { "clutter", "glossy finish" })]
    [InlineData("\nAssistant: Liked Art Features: old\nAssistant: Liked Art Features: new, calm\nDisliked Art Features: busy", new[] { "new", "calm" }, new[] { "busy" })]
    public void ParsesExtractorTextAsTheAuthorsDoInAStableOrder(string text, string[] likes, string[] dislikes)
    {
        VisualPreference p = VisualPreference.ParseExtractorOutput(text);
        Assert.Equal(likes, p.Likes);
        Assert.Equal(dislikes, p.Dislikes);
    }

    [Fact]
    public void RoundTripsJsonAndRejectsBadJson()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "p.json");
        VisualPreference.FromLists("a, b", "c").Save(path);
        VisualPreference loaded = VisualPreference.Load(path);
        Assert.Equal(["a", "b"], loaded.Likes);
        Assert.Equal(["c"], loaded.Dislikes);
        File.WriteAllText(path, "{\"likes\": [1, 2]}");
        Assert.Contains("likes", Assert.Throws<FormatException>(() => VisualPreference.Load(path)).Message);
        File.WriteAllText(path, "{\"likes\": ");
        Assert.Throws<FormatException>(() => VisualPreference.Load(path));
    }

    /// <summary>Golden orders from CPython 3.11: <c>random.seed(s); x = list(range(10)); random.shuffle(x)</c>.</summary>
    [Theory]
    [InlineData(0UL, new[] { 7, 8, 1, 5, 3, 4, 2, 0, 9, 6 })]
    [InlineData(7UL, new[] { 8, 3, 1, 4, 7, 0, 9, 6, 2, 5 })]
    [InlineData(12345UL, new[] { 8, 7, 3, 5, 1, 2, 9, 4, 0, 6 })]
    [InlineData(1099511627779UL, new[] { 8, 5, 6, 7, 9, 2, 4, 1, 0, 3 })]
    public void ShufflesLikePython(ulong seed, int[] expected)
    {
        var items = Enumerable.Range(0, 10).ToList();
        new PythonRandom(seed).Shuffle(items);
        Assert.Equal(expected, items);
    }

    [Fact]
    public void PngCarriesPixelsAndParameters()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "x.png");
        byte[] pixels = Enumerable.Range(0, 5 * 3 * 3).Select(i => (byte)(i * 5)).ToArray();
        PngWriter.Write(path, new RgbImage(5, 3, pixels), new Dictionary<string, string> { ["parameters"] = "prompt: a cat" });
        RgbImage read = ImageFile.Load(path);
        Assert.Equal(pixels, read.Pixels);
        Assert.Contains("parameters\0prompt: a cat", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(path)));
    }
}

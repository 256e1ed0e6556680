using System.Text.Json;
using Viper.Engine.Tests.Models;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// The preference extractor's prompt and the proxy metric against ../shared/refs/idefics2 (transformers 4.42.4 running
/// the authors' ViPer.py / metric.py prompts on the tiny model): prompt texts and ids, the metric's score with and without
/// the LoRA adapter (within 1e-4), and the context's KV cache reused across queries equal to scoring each alone.
/// </summary>
public class ViperPreferenceTests
{
    [Fact]
    public void TheExtractorPromptIsTheAuthorsToTheCharacter()
    {
        using JsonDocument readme = Readme();
        string[] comments = [.. readme.RootElement.GetProperty("vpe_comments").EnumerateArray().Select(c => c.GetString()!)];
        Assert.Equal(readme.RootElement.GetProperty("vpe_text").GetString(), PreferenceExtractor.Prompt(comments));
        Assert.Throws<ArgumentException>(() => PreferenceExtractor.Prompt([]));
        Assert.Equal(readme.RootElement.GetProperty("metric_text").GetString(), ProxyMetric.Prompt(2));
    }

    [Theory]
    [MemberData(nameof(TestBackends.WithFlag), MemberType = typeof(TestBackends))]
    public void TheMetricScoresAsTheAuthorsCode(string backend, bool withAdapter)
    {
        using JsonDocument readme = Readme();
        using RefTensors inputs = Idefics2Refs.Inputs();
        using IBackend b = TestBackends.Create(backend);
        using ProxyMetric metric = ProxyMetric.On(Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32,
            new ChatLoadOptions { AdapterFolder = withAdapter ? Path.Combine(Idefics2Refs.Folder, "lora_adapter") : null }));
        Assert.Equal((648, 387), (metric.PlusId, metric.MinusId));
        RgbImage[] images = [.. Enumerable.Range(0, 5).Select(i => Idefics2ProcessorTests.RawImage(inputs, i))];
        // README: context image0 (disliked 1), image1 (liked 1), image2 (disliked 2), image3 (liked 2); query image4.
        IReadOnlyList<double> scores = metric.Score([images[0], images[2]], [images[1], images[3]], [images[4], images[1], images[4]]);
        double expected = readme.RootElement.GetProperty(withAdapter ? "lora_metric_score" : "metric_score").GetDouble();
        Assert.Equal(expected, scores[0], 1e-4);
        Assert.Equal(scores[0], scores[2], 1e-6); // the reused context gives the same score again
        IReadOnlyList<double> alone = metric.Score([images[0], images[2]], [images[1], images[3]], [images[1]]);
        Assert.Equal(alone[0], scores[1], 1e-6);
    }

    [Fact]
    public void AQueryLargerThanTheContextRecomputesTheContextOnItsCanvas()
    {
        using RefTensors inputs = Idefics2Refs.Inputs();
        using IBackend b = TestBackends.Create("cpu");
        using ProxyMetric metric = ProxyMetric.On(Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32));
        RgbImage small = Idefics2ProcessorTests.RawImage(inputs, 3), tall = Idefics2ProcessorTests.RawImage(inputs, 0), wide = Idefics2ProcessorTests.RawImage(inputs, 1);
        // Context of one small pair; the queries widen the canvas differently, so each group gets its own prefill.
        IReadOnlyList<double> together = metric.Score([small], [small], [tall, wide, small]);
        for (int i = 0; i < 3; i++)
        {
            RgbImage query = new[] { tall, wide, small }[i];
            Assert.Equal(metric.Score([small], [small], [query])[0], together[i], 1e-6);
        }

        Assert.Throws<ArgumentException>(() => metric.Score([small], [small, small], [tall]));
        Assert.Throws<ArgumentException>(() => metric.Score([small], [small], []));
    }

    [Fact]
    public void ThePreferencesFileRoundTripsIntoGenerate()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "prefs.json");
        string raw = "Liked Art Features: soft pastel tones, loose brushwork\nDisliked Art Features: neon contrast, hard shadows";
        var extracted = new ExtractedPreference(Viper.Pipelines.VisualPreference.ParseExtractorOutput(raw), raw, [new CommentedImage("/x/a.png", "pretty")]);
        extracted.Save(path, "/x/comments.json", "/m/idefics2-8b", "/m/VPE-ViPer");
        Viper.Pipelines.VisualPreference loaded = Viper.Pipelines.VisualPreference.Load(path);
        Assert.Equal(["soft pastel tones", "loose brushwork"], loaded.Likes);
        Assert.Equal(["neon contrast", "hard shadows"], loaded.Dislikes);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(raw, doc.RootElement.GetProperty("source").GetProperty("text").GetString());
        Assert.Equal("pretty", doc.RootElement.GetProperty("source").GetProperty("images")[0].GetProperty("comment").GetString());
    }

    [Fact]
    public void CommentsFilesAreCheckedEntryByEntry()
    {
        using var dir = new TempFolder();
        PngWriter.Write(Path.Combine(dir.Path, "a.png"), new RgbImage(2, 2, new byte[12]));
        string path = Path.Combine(dir.Path, "comments.json");
        File.WriteAllText(path, """[{"image": "a.png", "comment": " I love the colours "}]""");
        CommentedImage only = Assert.Single(CommentedImage.Load(path));
        Assert.Equal((Path.Combine(dir.Path, "a.png"), "I love the colours"), (only.ImagePath, only.Comment));
        File.WriteAllText(path, """[{"image": "missing.png", "comment": "x"}]""");
        Assert.Contains("entry 1's image", Assert.Throws<FileNotFoundException>(() => CommentedImage.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, """[{"image": "a.png", "comment": "  "}]""");
        Assert.Contains("comment is empty", Assert.Throws<InvalidDataException>(() => CommentedImage.Load(path)).Message, StringComparison.Ordinal);
        File.WriteAllText(path, "[]");
        Assert.Throws<InvalidDataException>(() => CommentedImage.Load(path));
        File.WriteAllText(path, "[{");
        Assert.Throws<InvalidDataException>(() => CommentedImage.Load(path));
    }

    private static JsonDocument Readme() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Idefics2Refs.Folder, "README.json")));
}

using Viper.Engine.Tests.Models;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines.Preferences;

namespace Viper.Engine.Tests.Studio;

/// <summary>The test extractor the studio's tests rely on answers with preference sections through the real engine.</summary>
public class ScriptedExtractorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void GreedyDecodingWritesTheScriptAndItParses(int images)
    {
        using var work = new TempFolder();
        ScriptedExtractor.Write(work.Path);
        using RefTensors inputs = Idefics2Refs.Inputs();
        RgbImage[] pictures = [.. Enumerable.Range(0, images).Select(i => Idefics2ProcessorTests.RawImage(inputs, i % 5))];
        CommentedImage[] items = [.. Enumerable.Range(0, images).Select(i => new CommentedImage($"i{i}.png", $"I like the soft colours of picture {i}."))];
        using var backend = TestBackends.Create("cpu");
        using PreferenceExtractor extractor = PreferenceExtractor.Load(work.Path, Path.Combine(work.Path, "adapter"), backend, Viper.Runtime.DType.F32);
        var streamed = new System.Text.StringBuilder();
        ExtractedPreference extracted = extractor.Extract(items, pictures, PreferenceExtractor.DefaultOptions with { MaxNewTokens = 64 }, t => streamed.Append(t));
        Assert.Equal(ScriptedExtractor.Script, extracted.RawText.Trim());
        Assert.Equal(extracted.RawText, streamed.ToString());
        Assert.Equal(["watercolor", "pastel tones"], extracted.Preference.Likes);
        Assert.Equal(["neon"], extracted.Preference.Dislikes);
    }
}

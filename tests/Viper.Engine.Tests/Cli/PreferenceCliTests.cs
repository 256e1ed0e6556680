using System.Text.Json;
using Viper.Engine.Tests.Models;
using Viper.Engine.Tests.Support;
using Viper.Imaging;

namespace Viper.Engine.Tests.Cli;

/// <summary>
/// `viper preferences`, `viper score` and `viper generate --comments` as a user runs them, on the tiny IDEFICS2 of
/// ../shared/refs/idefics2 and its LoRA adapter. The tiny extractor's weights are random, so its text has no preference
/// sections: what is checked is that the text streams, the failure carries it, and nothing is written.
/// </summary>
public class PreferenceCliTests
{
    [Fact]
    public void TheExtractorStreamsItsTextAndAnOutputWithoutSectionsIsAClearError()
    {
        using var work = Workspace();
        CliResult r = CliRunner.Run(work.Path, "preferences", "--comments", "comments.json", "--extractor", Idefics2Refs.Folder,
            "--adapter", Path.Combine(Idefics2Refs.Folder, "lora_adapter"), "--out", "prefs.json", "--extractor-max-new-tokens", "6", "--dtype", "f32");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("warning: 2 commented image(s)", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("neither 'Liked Art Features:' nor 'Disliked Art Features:'; the extractor wrote: ", r.Stderr, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(r.Stdout));
        Assert.False(File.Exists(Path.Combine(work.Path, "prefs.json")));
    }

    [Fact]
    public void ScoresPrintAsATableOrJson()
    {
        using var work = Workspace();
        string[] images = ["--disliked", "i0.png", "--liked", "i1.png", "--disliked", "i2.png", "--liked", "i3.png", "--query", "i4.png", "--query", "i1.png"];
        CliResult json = CliRunner.Run(work.Path, ["score", "--model", Idefics2Refs.Folder, "--adapter", Path.Combine(Idefics2Refs.Folder, "lora_adapter"), .. images, "--json"]);
        Assert.True(json.ExitCode == 0, json.ToString());
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
        Assert.All(doc.RootElement.EnumerateArray(), e => Assert.InRange(e.GetProperty("score").GetDouble(), 0.0, 1.0));
        CliResult table = CliRunner.Run(work.Path, ["score", "--model", Idefics2Refs.Folder, .. images]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(@"query\s+score\ni4\.png\s+0\.\d{4}\ni1\.png\s+0\.\d{4}", table.Stdout.Replace("\r", "", StringComparison.Ordinal));
    }

    [Fact]
    public void EvaluateWritesBothImagesPerPromptAndTheAccuracy()
    {
        using var work = Workspace();
        CliResult made = CliRunner.Run(work.Path, "make-tiny", "tiny-sd", "--out", "tiny-sd");
        Assert.True(made.ExitCode == 0, made.ToString());
        File.WriteAllText(Path.Combine(work.Path, "prefs.json"), """{"likes": ["watercolor", "pastel tones"], "dislikes": ["neon"]}""");
        File.WriteAllText(Path.Combine(work.Path, "prompts.txt"), "a lighthouse\n\na cat on a roof\n");
        CliResult r = CliRunner.Run(work.Path, "evaluate", "--model", "tiny-sd", "--preferences", "prefs.json", "--prompts", "prompts.txt",
            "--metric", Idefics2Refs.Folder, "--metric-adapter", Path.Combine(Idefics2Refs.Folder, "lora_adapter"),
            "--liked", "i1.png", "--disliked", "i0.png", "--steps", "2", "--seed", "5", "--out", "eval");
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (string image in new[] { "000-personalized.png", "000-plain.png", "001-personalized.png", "001-plain.png" })
        {
            Assert.True(File.Exists(Path.Combine(work.Path, "eval", image)), image);
        }

        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(Path.Combine(work.Path, "eval", "report.json")));
        JsonElement[] prompts = [.. report.RootElement.GetProperty("prompts").EnumerateArray()];
        Assert.Equal(["a lighthouse", "a cat on a roof"], prompts.Select(p => p.GetProperty("prompt").GetString()));
        Assert.Equal([5UL, 6UL], prompts.Select(p => p.GetProperty("seed").GetUInt64()));
        double wins = prompts.Count(p => p.GetProperty("personalized").GetProperty("score").GetDouble() > p.GetProperty("plain").GetProperty("score").GetDouble());
        Assert.Equal(wins / 2, report.RootElement.GetProperty("accuracy").GetDouble());
        Assert.Contains($"accuracy: {wins / 2:F3} ({wins} of 2 prompts)", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("evaluate", "no prompts in it", "--model", "MODEL", "--preferences", "comments.json", "--prompts", "empty.txt", "--metric", "MODEL",
        "--liked", "i1.png", "--disliked", "i0.png", "--out", "eval")]
    [InlineData("evaluate", "--metric-adapter", "--model", "sd", "--preferences", "user-prefs.json", "--prompts", "prompts.txt", "--metric", "MODEL",
        "--metric-adapter", "no-adapter", "--liked", "i1.png", "--disliked", "i0.png", "--out", "eval")]
    [InlineData("score", "2 --liked and 1 --disliked images", "--model", "MODEL", "--liked", "i1.png", "--liked", "i3.png", "--disliked", "i0.png", "--query", "i4.png")]
    [InlineData("score", "--query", "--model", "MODEL", "--liked", "i1.png", "--disliked", "i0.png", "--query", "nope.png")]
    [InlineData("preferences", "--comments needs --extractor", "--comments", "comments.json", "--out", "p.json")]
    [InlineData("generate", "leave out --likes", "--model", "MODEL", "--prompt", "a cat", "--comments", "comments.json", "--likes", "ink")]
    public void BadArgumentsAreUsageErrors(string command, string message, params string[] args)
    {
        using var work = Workspace();
        CliResult r = CliRunner.Run(work.Path, [command, .. args.Select(a => a == "MODEL" ? Idefics2Refs.Folder : a)]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
    }

    private static TempFolder Workspace()
    {
        var work = new TempFolder();
        using RefTensors inputs = Idefics2Refs.Inputs();
        for (int i = 0; i < 5; i++)
        {
            PngWriter.Write(Path.Combine(work.Path, $"i{i}.png"), Idefics2ProcessorTests.RawImage(inputs, i));
        }

        File.WriteAllText(Path.Combine(work.Path, "empty.txt"), "\n  \n");
        File.WriteAllText(Path.Combine(work.Path, "prompts.txt"), "a lighthouse\n");
        File.WriteAllText(Path.Combine(work.Path, "user-prefs.json"), """{"likes": ["watercolor"], "dislikes": ["neon"]}""");
        Directory.CreateDirectory(Path.Combine(work.Path, "sd"));
        File.WriteAllText(Path.Combine(work.Path, "sd", "model_index.json"), "{}");
        File.WriteAllText(Path.Combine(work.Path, "comments.json"),
            """[{"image": "i0.png", "comment": "I love the soft pastel colours."}, {"image": "i1.png", "comment": "Too harsh for me."}]""");
        return work;
    }
}

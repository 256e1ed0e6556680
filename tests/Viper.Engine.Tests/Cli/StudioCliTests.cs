using System.Text.Json;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines.Preferences;

namespace Viper.Engine.Tests.Cli;

/// <summary>`viper starter-set` and `viper studio` as a user runs them: the set's images and manifest, and refused arguments.</summary>
public class StudioCliTests
{
    [Fact]
    public void StarterSetWritesEachImageWithItsPromptAndSeed()
    {
        using var work = new TempFolder();
        Assert.Equal(0, CliRunner.Run(work.Path, "make-tiny", "tiny-sdxl", "--out", "sdxl").ExitCode);
        CliResult r = CliRunner.Run(work.Path, "starter-set", "--model", "sdxl", "--out", "set", "--count", "3", "--steps", "2", "--seed", "10");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("[3/3] 002.png", r.Stderr, StringComparison.Ordinal);
        IReadOnlyDictionary<string, StarterImage> manifest = StarterSet.ReadManifest(Path.Combine(work.Path, "set"));
        Assert.Equal(["000.png", "001.png", "002.png"], manifest.Keys.Order(StringComparer.Ordinal));
        for (int i = 0; i < 3; i++)
        {
            StarterImage image = manifest[$"{i:D3}.png"];
            Assert.Equal(StarterSet.Prompts[i].Prompt, image.Prompt);
            Assert.Equal(10UL + (ulong)i, image.Seed);
            Assert.Equal(64, ImageFile.Load(Path.Combine(work.Path, "set", image.File)).Width);
        }
    }

    [Fact]
    public void TheStarterPromptsSpanEveryAttributeCategoryInEveryTen()
    {
        Assert.Equal(50, StarterSet.Prompts.Count);
        Assert.Equal(StarterSet.Prompts.Count, StarterSet.Prompts.Select(p => p.Prompt).Distinct().Count());
        string[] categories = ["brushwork", "colour palette", "composition", "lighting", "medium", "mood", "perspective", "shadow", "style", "texture"];
        Assert.Equal(categories, StarterSet.Prompts.Select(p => p.Category).Distinct().Order(StringComparer.Ordinal));
        Assert.All(StarterSet.Prompts.Chunk(10), ten => Assert.Equal(categories, ten.Select(p => p.Category).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void ABrokenGeneratorConfigIsReportedBeforeTheStudioServes()
    {
        using var work = new TempFolder();
        Assert.Equal(0, CliRunner.Run(work.Path, "make-tiny", "tiny-sdxl", "--out", "sdxl").ExitCode);
        File.WriteAllText(Path.Combine(work.Path, "sdxl", "unet", "config.json"), "{ not json");
        CliResult r = CliRunner.Run(work.Path, "studio", "--model", "sdxl", "--listen", "127.0.0.1:0");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("config.json", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Viper Studio on", r.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--size 20: this model's sizes are multiples of 16", "starter-set", "--model", "sdxl", "--out", "set", "--size", "20")]
    [InlineData("--count", "starter-set", "--model", "sdxl", "--out", "set", "--count", "51")]
    [InlineData("no model_index.json there", "starter-set", "--model", ".", "--out", "set")]
    [InlineData("no model_index.json there", "studio", "--model", ".")]
    [InlineData("--extractor and --adapter go together", "studio", "--extractor", "sdxl")]
    [InlineData("--listen nowhere: expected host:port", "studio", "--listen", "nowhere")]
    [InlineData("--images", "studio", "--images", "missing-folder")]
    public void BadArgumentsAreUsageErrorsAndNothingIsWritten(string message, params string[] args)
    {
        using var work = new TempFolder();
        Assert.Equal(0, CliRunner.Run(work.Path, "make-tiny", "tiny-sdxl", "--out", "sdxl").ExitCode);
        CliResult r = CliRunner.Run(work.Path, args);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(work.Path, "set")));
        Assert.False(Directory.Exists(Path.Combine(work.Path, "viper-studio")));
    }
}

using Viper.Engine.Tests.Support;
using Viper.Imaging;

namespace Viper.Engine.Tests.Cli;

/// <summary>`viper make-tiny idefics2` then `viper chat` on it, as a user would run them; bad arguments are refused before loading.</summary>
public class ChatCliTests
{
    [Fact]
    public void ATinyIdefics2FolderAnswersAboutAnImageOnTheEmulatedDevice()
    {
        using var work = new TempFolder();
        CliResult made = CliRunner.Run(work.Path, "make-tiny", "idefics2", "--out", "tiny-idefics2", "--seed", "3");
        Assert.True(made.ExitCode == 0, made.ToString());
        foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "added_tokens.json",
            "special_tokens_map.json", "preprocessor_config.json", "processor_config.json", "generation_config.json" })
        {
            Assert.True(File.Exists(Path.Combine(work.Path, "tiny-idefics2", file)), file);
        }

        PngWriter.Write(Path.Combine(work.Path, "cat.png"), new RgbImage(40, 30, [.. Enumerable.Range(0, 40 * 30 * 3).Select(i => (byte)(i * 7))]));
        File.WriteAllText(Path.Combine(work.Path, "messages.json"),
            "[{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"text\", \"text\": \"What is this?\"}]}]");
        CliResult r = CliRunner.Run(work.Path, "chat", "--model", "tiny-idefics2", "--image", "cat.png", "--messages", "messages.json",
            "--max-new-tokens", "5", "--repetition-penalty", "0.99", "--print-ids", "--backend", "cuda-emulated",
            "--longest-edge", "32", "--shortest-edge", "16", "--image-splitting", "on");
        Assert.True(r.ExitCode == 0, r.ToString());
        string ids = r.Stdout.Split('\n').Single(l => l.StartsWith("ids: ", StringComparison.Ordinal));
        int count = ids["ids: ".Length..].Split(' ').Length;
        Assert.InRange(count, 1, 5);
        Assert.Matches(@"prompt: \d+ tokens in [\d.]+ s \([\d.]+ tokens/s\); decode: \d+ tokens", r.Stderr);
        Assert.Matches(@"loaded \S*tiny-idefics2 in [\d.]+ s", r.Stderr); // progress goes to stderr: stdout is the answer
        Assert.DoesNotContain("load", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void InspectTellsWhetherAnAdapterFitsABaseManifest()
    {
        using var work = new TempFolder();
        CliResult manifest = CliRunner.Run(work.Path, "manifest", "tiny-idefics2");
        Assert.True(manifest.ExitCode == 0, manifest.ToString());
        File.WriteAllText(Path.Combine(work.Path, "tiny-idefics2.json"), manifest.Stdout);
        string adapter = Path.Combine(Idefics2Refs.Folder, "lora_adapter");

        CliResult fits = CliRunner.Run(work.Path, "inspect", adapter, "--manifest", "tiny-idefics2.json");
        Assert.True(fits.ExitCode == 0, fits.ToString());
        Assert.Contains("LoRA (r 4) on 38 linear layers", fits.Stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);

        CliResult misfit = CliRunner.Run(work.Path, "inspect", adapter, "--manifest", Path.Combine(RepoPaths.Root, "weights-manifest", "idefics2-8b.json"));
        Assert.Equal(2, misfit.ExitCode);
        Assert.Contains("do not fit 'model.", misfit.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "give either --prompt or --messages", "--image", "cat.png")]
    [InlineData(1, "--prompt has 0 image(s) but 1 --image given", "--prompt", "Describe it.", "--image", "cat.png")]
    [InlineData(1, "missing.png: the file does not exist", "--prompt", "User:<image>Hi", "--image", "missing.png")]
    [InlineData(1, "--max-new-tokens", "--prompt", "Hi", "--max-new-tokens", "0")]
    [InlineData(2, "not valid JSON", "--messages", "bad.json")]
    public void BadArgumentsAreRefusedBeforeLoading(int exitCode, string message, params string[] args)
    {
        using var work = new TempFolder();
        PngWriter.Write(Path.Combine(work.Path, "cat.png"), new RgbImage(2, 2, new byte[12]));
        File.WriteAllText(Path.Combine(work.Path, "bad.json"), "[{");
        Directory.CreateDirectory(Path.Combine(work.Path, "model"));
        CliResult r = CliRunner.Run(work.Path, ["chat", "--model", "model", .. args]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.Empty(r.Stdout);
    }
}

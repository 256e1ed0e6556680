using System.Text;
using System.Text.RegularExpressions;
using Viper.Engine.Tests.Support;

namespace Viper.Engine.Tests.Cli;

/// <summary>
/// `viper generate` run as a process, as a user runs it: the README's fp16 SDXL command on tiny fp16-variant folders,
/// arguments rejected before any model loads in the CLI's own words (exit 1 usage / 2 input), errors on stderr unwrapped,
/// no output file after a failure, a random seed printed and recorded, line progress when stdout is not a terminal.
/// </summary>
public sealed partial class GenerateCliTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    [Fact]
    public void TheReadmesFp16SdxlCommandRunsOnTinyFp16Folders()
    {
        using var work = new TempFolder();
        File.WriteAllText(Path.Combine(work.Path, "my-preferences.json"), """{"likes": ["watercolor", "soft pastel tones"], "dislikes": ["photorealism"]}""");
        string[] args = ReadmeFp16Command()
            .Select(a => a switch
            {
                "stable-diffusion-xl-base-1.0" => folders.SdxlFp16,
                "stable-diffusion-xl-refiner-1.0" => folders.RefinerFp16,
                "cuda" => "cuda-emulated", // the same kernels on the emulated device
                _ => a,
            })
            .Concat(["--steps", "4"]).ToArray();
        CliResult r = CliRunner.Run(work.Path, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        string png = Path.Combine(work.Path, args[Array.IndexOf(args, "--out") + 1]);
        string parameters = PngText(png);
        Assert.Contains("variant: fp16", parameters, StringComparison.Ordinal);
        Assert.Contains("dtype: f16", parameters, StringComparison.Ordinal);
        Assert.Contains("backend: cuda-emulated", parameters, StringComparison.Ordinal);
        Assert.Contains("scheduler: euler", parameters, StringComparison.Ordinal);
        Assert.Contains("size: 64x64", parameters, StringComparison.Ordinal);
        Assert.Matches(@"engine: Viper\.Engine \d+\.\d+\.\d+", parameters);
        Assert.Matches(@"base: 100% \(3/3 steps\) in \d+ ms", r.Stdout);
        Assert.Matches(@"refiner: 100% \(1/1 steps\) in \d+ ms", r.Stdout);
    }

    [Theory]
    [InlineData(1, "--steps: 0 is outside 1..1000", "--steps", "0")]
    [InlineData(1, "--beta: 'inf' is not a finite number", "--beta", "inf")]
    [InlineData(1, "--guidance: 'NaN' is not a finite number", "--guidance", "NaN")]
    [InlineData(1, "--beta-negative: 'Infinity' is not a finite number", "--beta-negative", "Infinity")]
    [InlineData(1, "--width: 9000 is outside 8..4096", "--width", "9000")]
    [InlineData(1, "--width: 72 is not a multiple of 16", "--width", "72")]
    [InlineData(1, "--denoising-end: 0 is outside (0, 1]", "--denoising-end", "0")]
    [InlineData(1, "--strength: 1.5 is outside (0, 1]", "--strength", "1.5")]
    [InlineData(1, "--seed: '12ab' is not a seed", "--seed", "12ab")]
    [InlineData(1, "--dtype: 'f8' is not a dtype", "--dtype", "f8")]
    [InlineData(1, "--scheduler: 'pndm' is not a sampler", "--scheduler", "pndm")]
    [InlineData(1, "--threads sets the cpu backend's threads", "--threads", "2", "--backend", "cuda-emulated")]
    [InlineData(1, "give either --preferences or --likes/--dislikes", "--likes", "ink", "--preferences", "PREFS")]
    [InlineData(1, "--init-image is 64×64; --width/--height must match it", "--init-image", "IMG64", "--width", "128")]
    [InlineData(2, "--preferences: ", "--preferences", "BADPREFS")]
    [InlineData(2, "--init-image: ", "--init-image", "NOTANIMAGE")]
    [InlineData(2, "--init-image ", "--init-image", "missing.png")]
    [InlineData(2, "no model.safetensors or model.safetensors.index.json (found the fp16 variant: pass --variant fp16)", "--model", "FP16")]
    public void BadArgumentsAreRejectedInTheClisWordsAndWriteNothing(int exitCode, string message, params string[] args)
    {
        using var work = new TempFolder();
        File.WriteAllText(Path.Combine(work.Path, "PREFS"), """{"likes": ["ink"]}""");
        File.WriteAllText(Path.Combine(work.Path, "BADPREFS"), """{"likes": 3}""");
        File.WriteAllText(Path.Combine(work.Path, "NOTANIMAGE"), "not an image");
        Viper.Imaging.PngWriter.Write(Path.Combine(work.Path, "IMG64"), new Viper.Imaging.RgbImage(64, 64, new byte[64 * 64 * 3]));
        string[] substituted = args.Select(a => a == "FP16" ? folders.SdxlFp16 : a).ToArray();
        string[] model = substituted.Contains("--model") ? [] : ["--model", folders.Sd];
        string[] steps = substituted.Contains("--steps") ? [] : ["--steps", "2"];
        CliResult r = CliRunner.Run(work.Path, ["generate", .. model, "--prompt", "a cat", .. steps, "--out", "cat.png", .. substituted]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter '", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Actual value", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(work.Path, "cat.png")), "an output file was written after a failure");
        Assert.DoesNotContain("error", r.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void MissingFoldersAndFolderOutputsAreNamedWholeOnOneLine()
    {
        using var work = new TempFolder();
        string deep = Path.Combine(work.Path, string.Join("/", Enumerable.Repeat("a-rather-long-folder-name", 6)), "stable-diffusion-xl-base-1.0");
        CliResult missing = CliRunner.Run(work.Path, "generate", "--model", deep, "--prompt", "x");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains($"error: --model {deep}: no such file or folder", missing.Stderr.ReplaceLineEndings("\n").Split('\n'));

        CliResult folder = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "x", "--out", work.Path);
        Assert.Equal(1, folder.ExitCode);
        Assert.Contains("--out", folder.Stderr, StringComparison.Ordinal);
        Assert.Contains("is a folder", folder.Stderr, StringComparison.Ordinal);

        CliResult noFolder = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "x", "--out", Path.Combine(work.Path, "nope", "x.png"));
        Assert.Equal(2, noFolder.ExitCode);
        Assert.Contains("does not exist", noFolder.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ARandomSeedIsPrintedAndRecordedAndThreadsApply()
    {
        using var work = new TempFolder();
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a cat", "--likes", "ink drawing, sepia", "--dislikes", "neon",
            "--steps", "3", "--seed", "-1", "--threads", "1", "--out", "cat.png", "--no-shuffle", "--preview-every", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        string seed = SeedLine().Match(r.Stdout).Groups[1].Value;
        Assert.NotEmpty(seed);
        string parameters = PngText(Path.Combine(work.Path, "cat.png"));
        Assert.Contains($"seed: {seed},", parameters, StringComparison.Ordinal);
        Assert.Contains("shuffle: off", parameters, StringComparison.Ordinal);
        Assert.Contains("likes: ink drawing, sepia", parameters, StringComparison.Ordinal);
        Assert.Contains("scheduler: ddim", parameters, StringComparison.Ordinal); // the folder's class, as diffusers
        Assert.Contains("negative prompt: (none)", parameters, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(work.Path, "cat-preview-base-002.png")));
        Assert.True(File.Exists(Path.Combine(work.Path, "cat-preview-base-003.png")), "the last step is always previewed");
        Assert.False(File.Exists(Path.Combine(work.Path, "cat-preview-base-001.png")));
    }

    [Theory]
    [InlineData("float16", "f16")]
    [InlineData("bfloat16", "bf16")]
    [InlineData("fp32", "f32")]
    public void DTypeTakesDiffusersAndPyTorchSpellings(string typed, string recorded)
    {
        using var work = new TempFolder();
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a cat", "--steps", "1", "--dtype", typed, "--out", "cat.png");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"dtype: {recorded},", PngText(Path.Combine(work.Path, "cat.png")), StringComparison.Ordinal);
    }

    /// <summary>--strength is read as a double, as diffusers' Python float: int(10 · 0.7) = 7 steps (0.7f would give 6).</summary>
    [Fact]
    public void StrengthKeepsItsDecimalValue()
    {
        using var work = new TempFolder();
        Viper.Imaging.PngWriter.Write(Path.Combine(work.Path, "in.png"), new Viper.Imaging.RgbImage(64, 64, new byte[64 * 64 * 3]));
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a cat", "--steps", "10", "--init-image", "in.png",
            "--strength", "0.7", "--out", "cat.png");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("base: 100% (7/7 steps)", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void LongPreferenceTextWarnsAndPointsAtChunking()
    {
        using var work = new TempFolder();
        string likes = string.Join(", ", Enumerable.Range(0, 40).Select(i => $"attribute {i}"));
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a cat", "--likes", likes, "--steps", "2", "--out", "cat.png");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"warning: the liked attributes \(VP\+\): \d+ token\(s\) beyond the text encoder's 75 are dropped; --chunk-long-text", r.Stderr);
        CliResult chunked = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a cat", "--likes", likes, "--steps", "2", "--out", "cat.png",
            "--chunk-long-text");
        Assert.True(chunked.ExitCode == 0, chunked.ToString());
        Assert.DoesNotContain("warning", chunked.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpExplainsTheTermsRangesAndExitCodes()
    {
        CliResult r = CliRunner.Run(RepoPaths.Root, "generate", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string expected in new[]
        {
            "Exit codes: 0 success, 1 usage error", "0 = plain classifier-free guidance", "VP+", "VP−", "paper = the paper's eq. 1", "--model <folder|file>", "--lora <file[:weight]>", "--embedding <file[:token]>",
            "--denoising-end <0..1>", "fraction of the schedule", "--beta <0..10>", "[default: 0.85]", "--dtype <dtype>", "fp16", "bfloat16", "[default: f32]",
        })
        {
            Assert.Contains(expected, r.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void InspectSummarisesAPipelineFolder()
    {
        CliResult plain = CliRunner.Run(RepoPaths.Root, "inspect", folders.SdxlFp16);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("StableDiffusionXLPipeline", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("pass --variant fp16", plain.Stdout, StringComparison.Ordinal);
        CliResult fp16 = CliRunner.Run(RepoPaths.Root, "inspect", folders.SdxlFp16, "--variant", "fp16");
        Assert.True(fp16.ExitCode == 0, fp16.ToString());
        foreach (string component in new[] { "text_encoder ", "text_encoder_2", "tokenizer ", "tokenizer_2", "unet", "vae", "scheduler" })
        {
            Assert.Contains("  " + component, fp16.Stdout, StringComparison.Ordinal);
        }

        Assert.Matches(@"unet\s+UNet2DConditionModel\s+diffusion_pytorch_model\.fp16\.safetensors: \d+ tensors, [\d,]+ parameters, F16×\d+", fp16.Stdout);
    }

    // The README's real-download fp16 SDXL example, split as a shell would.
    private static string[] ReadmeFp16Command()
    {
        string line = File.ReadAllLines(Path.Combine(RepoPaths.Root, "README.md"))
            .Single(l => l.StartsWith("viper generate --model stable-diffusion-xl-base-1.0", StringComparison.Ordinal) && l.Contains("--variant fp16", StringComparison.Ordinal));
        return ShellWord().Matches(line).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Value).Skip(1).ToArray();
    }

    // tEXt chunks of a PNG, "key\0value" each.
    internal static string PngText(string path)
    {
        byte[] png = File.ReadAllBytes(path);
        var text = new StringBuilder();
        for (int i = 8; i + 8 <= png.Length;)
        {
            int length = (png[i] << 24) | (png[i + 1] << 16) | (png[i + 2] << 8) | png[i + 3];
            if (Encoding.ASCII.GetString(png, i + 4, 4) == "tEXt")
            {
                text.AppendLine(Encoding.Latin1.GetString(png, i + 8, length).Replace('\0', '='));
            }

            i += 12 + length;
        }

        return text.ToString();
    }

    [GeneratedRegex("\"([^\"]*)\"|\\S+")]
    private static partial Regex ShellWord();

    [GeneratedRegex(@"seed: (\d+) \(random\)")]
    private static partial Regex SeedLine();
}

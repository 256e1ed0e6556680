using System.Security.Cryptography;
using Viper.Engine.Tests.SingleFile;
using Viper.Engine.Tests.Support;

namespace Viper.Engine.Tests.Cli;

/// <summary>
/// `viper generate` on the files A1111 users have — the single file with --config, --lora FILE:WEIGHT, --embedding —
/// reproduces refs/singlefile's images within 1 level and records each LoRA and embedding with its weight and short
/// SHA-256; `viper convert` writes a folder that generates the same image; bad and malicious files are named errors.
/// </summary>
public sealed class SingleFileCliTests
{
    private static string Refs => SingleFileReferenceTests.Refs;

    private static string[] Reference(string png) =>
    [
        "generate", "--model", Path.Combine(Refs, "model.safetensors"), "--config", SingleFileReferenceTests.ConfigFolder, "--prompt", "a red fox in deep snow, woodcut print",
        "--negative-prompt", "", "--guidance", "7.5", "--steps", "4", "--scheduler", "ddim", "--seed", "7", "--out", png,
    ];

    [Fact]
    public void LoraAndEmbeddingReproduceTheReferenceImagesAndAreRecorded()
    {
        using var work = new TempFolder();
        string lora = Path.Combine(Refs, "lora_kohya.safetensors");
        CliResult r = CliRunner.Run(work.Path, [.. Reference("lora.png"), "--lora", $"{lora}:0.6"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        AssertPng(Path.Combine(work.Path, "lora.png"), "lora_0.6_image_uint8_hwc");
        string parameters = GenerateCliTests.PngText(Path.Combine(work.Path, "lora.png"));
        Assert.Contains("loras: <lora:lora_kohya:0.6>", parameters, StringComparison.Ordinal);
        Assert.Contains($"Lora hashes: \"lora_kohya: {Short(lora)}\"", parameters, StringComparison.Ordinal);
        Assert.Contains("config: ", parameters, StringComparison.Ordinal);

        string embedding = Path.Combine(Refs, "fox-style.pt");
        string[] args = [.. Reference("ti.png"), "--embedding", embedding];
        args[Array.IndexOf(args, "--prompt") + 1] = "a red fox in deep snow, fox-style";
        CliResult ti = CliRunner.Run(work.Path, args);
        Assert.True(ti.ExitCode == 0, ti.ToString());
        AssertPng(Path.Combine(work.Path, "ti.png"), "textual_inversion_image_uint8_hwc");
        Assert.Contains($"TI hashes: \"fox-style: {Short(embedding)}\"", GenerateCliTests.PngText(Path.Combine(work.Path, "ti.png")), StringComparison.Ordinal);
    }

    [Fact]
    public void ConvertWritesAFolderThatGeneratesTheSameImage()
    {
        using var work = new TempFolder();
        CliResult convert = CliRunner.Run(work.Path, "convert", Path.Combine(Refs, "model.safetensors"), "--config", SingleFileReferenceTests.ConfigFolder, "--out", "folder");
        Assert.True(convert.ExitCode == 0, convert.ToString());
        Assert.Contains("a sd1 checkpoint", convert.Stderr, StringComparison.Ordinal);
        string[] args = Reference("from-folder.png");
        args[Array.IndexOf(args, "--model") + 1] = Path.Combine(work.Path, "folder");
        args = [.. args.Take(3), .. args.Skip(5)]; // a folder has its own configs: no --config
        CliResult r = CliRunner.Run(work.Path, args);
        Assert.True(r.ExitCode == 0, r.ToString());
        AssertPng(Path.Combine(work.Path, "from-folder.png"), "single_file_image_uint8_hwc");

        CliResult back = CliRunner.Run(work.Path, "convert", "folder", "--out", "again.safetensors");
        Assert.True(back.ExitCode == 0, back.ToString());
        Assert.Contains("(sd1 layout)", back.Stdout, StringComparison.Ordinal);
        CliResult exists = CliRunner.Run(work.Path, "convert", "folder", "--out", "again.safetensors");
        Assert.Equal(1, exists.ExitCode);
        Assert.Contains("already exists", exists.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "--lora ", "--lora", "missing.safetensors")]
    [InlineData(1, "--lora LORA:20: the weight 20 is not between -10 and 10", "--lora", "LORA:20")]
    [InlineData(1, "--prediction: 'x' is not a prediction type", "--prediction", "x")]
    [InlineData(2, "looks like a LoRA: pass it with --lora", "--model", "LORA")]
    [InlineData(2, "'posix.system'", "--model", "EVIL")]
    [InlineData(2, "'posix.system'", "--embedding", "EVILEMB")]
    [InlineData(1, "two embeddings use the token 'fox-style'", "--embedding", "EMB", "--embedding", "EMB")]
    [InlineData(2, "is a sd1 checkpoint", "--config", "SDXLCONFIG")]
    public void BadFilesAreNamedErrorsAndWriteNothing(int exitCode, string message, params string[] args)
    {
        using var work = new TempFolder();
        using var sdxl = new TempFolder();
        using (Viper.Runtime.IBackend cpu = TestBackends.Create("cpu"))
        {
            if (args.Contains("SDXLCONFIG"))
            {
                Viper.Pipelines.TinyPipeline.Write("tiny-sdxl", sdxl.Path, TinyPipelineFolders.Tokenizer, cpu);
            }
        }

        string torch = RepoPaths.Fixtures("torch");
        string[] substituted = args.Select(a => a switch
        {
            "LORA" => Path.Combine(Refs, "lora_kohya.safetensors"),
            "LORA:20" => Path.Combine(Refs, "lora_kohya.safetensors") + ":20",
            "EVIL" => Path.Combine(torch, "evil_state_dict.ckpt"),
            "EVILEMB" => Path.Combine(torch, "evil_embedding.pt"),
            "EMB" => Path.Combine(Refs, "fox-style.pt"),
            "SDXLCONFIG" => sdxl.Path,
            _ => a,
        }).ToArray();
        string[] baseArgs = Reference("out.png");
        if (substituted.Contains("--model"))
        {
            baseArgs = [.. baseArgs.Take(1), .. baseArgs.Skip(5)];
        }
        else if (substituted.Contains("--config"))
        {
            baseArgs = [.. baseArgs.Take(3), .. baseArgs.Skip(5)];
        }

        CliResult r = CliRunner.Run(work.Path, [.. baseArgs, .. substituted]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.Contains(message.Replace("LORA", Path.Combine(Refs, "lora_kohya.safetensors"), StringComparison.Ordinal), r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(work.Path, "out.png")));
    }

    private static string Short(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))[..10];

    private static void AssertPng(string png, string expectedName)
    {
        Viper.Imaging.RgbImage image = Viper.Imaging.ImageFile.Load(png);
        using var expected = new RefTensors(Path.Combine(Refs, "expected.safetensors"));
        byte[] want = expected.Bytes(expectedName);
        Assert.Equal(want.Length, image.Pixels.Length);
        Assert.True(want.Zip(image.Pixels, (a, b) => Math.Abs(a - b)).Max() <= 1, $"{expectedName}: differs by more than 1 level");
    }
}

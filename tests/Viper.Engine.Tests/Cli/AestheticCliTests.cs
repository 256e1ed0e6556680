using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines.Aesthetic;
using Viper.Weights;

namespace Viper.Engine.Tests.Cli;

/// <summary>
/// `viper aesthetic-embedding`, `aesthetic-personalize` and `generate --aesthetic-*` as a user runs them, on
/// ../shared/refs/aesthetic (the raw images, the tiny CLIPModel folder, the released method's numbers) and tiny-sd.
/// </summary>
public sealed class AestheticCliTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static string Refs => RepoPaths.Shared("refs", "aesthetic");

    [Theory]
    [InlineData("liked.pt")]
    [InlineData("liked.safetensors")]
    public void TheEmbeddingOfAFolderOfImagesIsTheReferenceMean(string output)
    {
        using var work = new TempFolder();
        string images = WriteRefImages(work.Path);
        CliResult r = CliRunner.Run(work.Path, "aesthetic-embedding", "--clip", Refs, "--images", images, "--out", output);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("the mean of 3 image embedding(s), 16 values", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("images: 100%", r.Stdout, StringComparison.Ordinal);
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        Tolerance.CloseF32(outputs.Floats("aesthetic_embedding"), AestheticEmbedding.Read(Path.Combine(work.Path, output)), output);
    }

    [Fact]
    public void PersonalizeWritesTheReleasedMethodsLossesAndState()
    {
        using var work = new TempFolder();
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        CliResult r = CliRunner.Run(work.Path, "aesthetic-personalize", "--clip", Refs, "--embedding", Path.Combine(Refs, "embedding_f16.pt"),
            "--prompt", "a lighthouse at dawn, oil painting", "--steps", "3", "--lr", "1e-3", "--out", "z.safetensors", "--backend", "cuda-emulated");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("step 3", r.Stdout, StringComparison.Ordinal);
        using var z = new RefTensors(Path.Combine(work.Path, "z.safetensors"));
        Assert.Equal(inputs.Longs("tokens"), z.Longs("input_ids"));
        // The f16 file is the embedding rounded to f16 (relative change ≤ 2⁻¹¹ per value, so the normalised direction moves by
        // under 5e-4 and the cosine loss by no more than that at step 0): the losses stay within 1e-3 of the f32 run's.
        Tolerance.Close(outputs.Floats("losses"), z.Floats("losses"), 1e-3f, 0, "losses");
        Assert.Equal(outputs.Floats("last_hidden_state_after").Length, z.Floats("last_hidden_state").Length);

        r = CliRunner.Run(work.Path, "aesthetic-personalize", "--clip", Refs, "--embedding", Path.Combine(Refs, "embedding_f32.pt"),
            "--prompt", "a lighthouse at dawn, oil painting", "--steps", "3", "--lr", "1e-3", "--out", "z32.safetensors");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var z32 = new RefTensors(Path.Combine(work.Path, "z32.safetensors"));
        Tolerance.Close(outputs.Floats("losses"), z32.Floats("losses"), 1e-5f, 0, "losses (f32 embedding)");
        Tolerance.CloseF32(outputs.Floats("last_hidden_state_after"), z32.Floats("last_hidden_state"), "last_hidden_state (f32 embedding)");
    }

    [Fact]
    public void GenerateTunesThePromptAndRecordsTheSettings()
    {
        using var work = new TempFolder();
        string clip = AestheticClipFolder.Write(Path.Combine(folders.Sd, "text_encoder"), Path.Combine(work.Path, "clip"));
        AestheticEmbedding.Write(Path.Combine(work.Path, "liked.pt"), Enumerable.Range(0, AestheticClipFolder.ProjectionDim).Select(i => MathF.Cos(i)).ToArray());
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", folders.Sd, "--prompt", "a lighthouse", "--steps", "2", "--seed", "3",
            "--aesthetic-embedding", "liked.pt", "--aesthetic-clip", clip, "--aesthetic-steps", "2", "--aesthetic-lr", "0.01", "--likes", "ink", "--out", "z.png");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"aesthetic: 100% in \d+ ms", r.Stdout);
        Assert.Matches(@"aesthetic loss: -?\d\.\d{5} → -?\d\.\d{5} in 2 step\(s\)", r.Stdout);
        string parameters = GenerateCliTests.PngText(Path.Combine(work.Path, "z.png"));
        Assert.Contains($"aesthetic embedding: {Path.Combine(work.Path, "liked.pt")}, aesthetic steps: 2, aesthetic lr: 0.01, aesthetic clip: {clip}", parameters, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "--aesthetic-embedding needs --aesthetic-clip", "generate", "--aesthetic-embedding", "EMB")]
    [InlineData(1, "--aesthetic-clip, --aesthetic-clip-g and the other --aesthetic-* options apply to --aesthetic-embedding", "generate", "--aesthetic-steps", "3")]
    [InlineData(1, "--aesthetic-lr: 0 is outside (0, 1]", "generate", "--aesthetic-lr", "0")]
    [InlineData(1, "--aesthetic-steps: 2000 is outside 0..1000", "generate", "--aesthetic-steps", "2000")]
    [InlineData(1, "leave out --chunk-long-text", "generate", "--aesthetic-embedding", "EMB", "--aesthetic-clip", "REFS", "--chunk-long-text")]
    [InlineData(1, "--aesthetic-embedding ", "generate", "--aesthetic-embedding", "missing.pt", "--aesthetic-clip", "REFS")]
    [InlineData(2, "'os.system'; only a saved tensor's", "generate", "--aesthetic-embedding", "EVIL", "--aesthetic-clip", "REFS")]
    [InlineData(2, "differs in shape from the pipeline's text_encoder", "generate", "--aesthetic-embedding", "EMB", "--aesthetic-clip", "REFS")]
    [InlineData(2, "--embedding EVIL.pt: ", "aesthetic-personalize", "--embedding", "EVIL", "--clip", "REFS", "--prompt", "x", "--out", "z.safetensors")]
    [InlineData(1, "--out z.pt: write .safetensors", "aesthetic-personalize", "--embedding", "EMB", "--clip", "REFS", "--prompt", "x", "--out", "z.pt")]
    [InlineData(1, "--clip ", "aesthetic-personalize", "--embedding", "EMB", "--clip", "missing", "--prompt", "x", "--out", "z.safetensors")]
    [InlineData(1, "the folder holds no image", "aesthetic-embedding", "--clip", "REFS", "--images", "EMPTY", "--out", "e.pt")]
    [InlineData(2, "--images NOTANIMAGE.png: ", "aesthetic-embedding", "--clip", "REFS", "--images", "NOTANIMAGE.png", "--out", "e.pt")]
    [InlineData(1, "--out e.npy: write .safetensors or .pt", "aesthetic-embedding", "--clip", "REFS", "--images", "EMPTY", "--out", "e.npy")]
    public void BadArgumentsAreRefusedBeforeAnyWorkAndWriteNothing(int exitCode, string message, string command, params string[] args)
    {
        using var work = new TempFolder();
        AestheticEmbedding.Write(Path.Combine(work.Path, "EMB.pt"), [.. Enumerable.Repeat(0.5f, AestheticClipFolder.ProjectionDim)]);
        File.WriteAllBytes(Path.Combine(work.Path, "EVIL.pt"), EvilPickle());
        File.WriteAllText(Path.Combine(work.Path, "NOTANIMAGE.png"), "not an image");
        Directory.CreateDirectory(Path.Combine(work.Path, "EMPTY"));
        string[] substituted = args.Select(a => a switch { "EMB" => "EMB.pt", "EVIL" => "EVIL.pt", "REFS" => Refs, _ => a }).ToArray();
        string[] common = command == "generate" ? ["--model", folders.Sd, "--prompt", "a cat", "--steps", "1", "--out", "cat.png"] : [];
        CliResult r = CliRunner.Run(work.Path, [command, .. common, .. substituted]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(work.Path, "pwned")), "the pickle ran");
        Assert.Empty(Directory.EnumerateFiles(work.Path).Select(Path.GetFileName).Except(["EMB.pt", "EVIL.pt", "NOTANIMAGE.png"]));
    }

    /// <summary>A .pt whose pickle calls os.system (touch pwned) — the classic torch.load exploit.</summary>
    private static byte[] EvilPickle()
    {
        using var s = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(s, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream e = zip.CreateEntry("archive/data.pkl").Open();
            e.Write([0x80, 2, .. "cos\nsystem\nX\x0b\0\0\0touch pwned\x85R."u8.ToArray()]);
        }

        return s.ToArray();
    }

    /// <summary>The refs' three raw images as PNGs in a folder.</summary>
    private static string WriteRefImages(string root)
    {
        string folder = Path.Combine(root, "liked");
        Directory.CreateDirectory(folder);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        for (int i = 0; i < 3; i++)
        {
            int[] shape = inputs.Shape($"image{i}_uint8_hwc");
            PngWriter.Write(Path.Combine(folder, $"image{i}.png"), new RgbImage(shape[1], shape[0], inputs.Bytes($"image{i}_uint8_hwc")));
        }

        return folder;
    }
}

/// <summary>
/// The SDXL flow as a user runs it: make-tiny writes tiny-sdxl and its two image towers, aesthetic-embedding --clip --clip-g
/// writes one file with clip_l and clip_g, and generate tunes both encoders with the A1111 options, recording them.
/// </summary>
public sealed class SdxlAestheticCliTests
{
    [Fact]
    public void EmbeddingWithBothTowersThenGenerateWithTheA1111Options()
    {
        using var work = new TempFolder();
        foreach ((string name, string folder) in new[] { ("tiny-sdxl", "sdxl"), ("tiny-sdxl-vision-l", "vision-l"), ("tiny-sdxl-vision-g", "vision-g") })
        {
            CliResult made = CliRunner.Run(work.Path, "make-tiny", name, "--out", folder);
            Assert.True(made.ExitCode == 0, made.ToString());
        }

        Directory.CreateDirectory(Path.Combine(work.Path, "liked"));
        for (int i = 0; i < 2; i++)
        {
            byte[] pixels = Enumerable.Range(0, 40 * 30 * 3).Select(p => (byte)((p * (i + 3)) % 251)).ToArray();
            Viper.Imaging.PngWriter.Write(Path.Combine(work.Path, "liked", $"{i}.png"), new Viper.Imaging.RgbImage(40, 30, pixels));
        }

        CliResult embedding = CliRunner.Run(work.Path, "aesthetic-embedding", "--clip", "vision-l", "--clip-g", "vision-g", "--images", "liked", "--out", "style.safetensors");
        Assert.True(embedding.ExitCode == 0, embedding.ToString());
        using (var file = Viper.Weights.SafeTensorsFile.Open(Path.Combine(work.Path, "style.safetensors")))
        {
            Assert.Equal(["clip_g", "clip_l"], file.Tensors.Select(t => t.Name).Order());
            Assert.All(file.Tensors, t => Assert.Equal(new Viper.Runtime.Shape(1, 1280), t.Shape));
        }

        AestheticClipFolder.Write(Path.Combine(work.Path, "sdxl", "text_encoder"), Path.Combine(work.Path, "clip-l"), projectionDim: 1280);
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", "sdxl", "--prompt", "a lighthouse", "--steps", "2", "--likes", "watercolor",
            "--aesthetic-embedding", "style.safetensors", "--aesthetic-clip", "clip-l", "--aesthetic-steps", "2", "--aesthetic-lr", "0.01",
            "--aesthetic-weight", "0.9", "--aesthetic-slerp", "--aesthetic-text", "ink", "--out", "out.png");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("aesthetic loss (bigG, text_encoder_2)", r.Stdout, StringComparison.Ordinal);
        string parameters = GenerateCliTests.PngText(Path.Combine(work.Path, "out.png"));
        Assert.Contains("(clip_l, clip_g)", parameters, StringComparison.Ordinal);
        Assert.Contains("Aesthetic weight: 0.9, Aesthetic slerp: True, Aesthetic text: ink, Aesthetic text negative: False, Aesthetic slerp angle: 0.1", parameters, StringComparison.Ordinal);

        CliResult negative = CliRunner.Run(work.Path, "generate", "--model", "sdxl", "--prompt", "x", "--aesthetic-embedding", "style.safetensors",
            "--aesthetic-clip", "clip-l", "--aesthetic-text-negative", "--out", "bad.png");
        Assert.Equal(1, negative.ExitCode);
        Assert.Contains("--aesthetic-text-negative needs --aesthetic-text", negative.Stderr, StringComparison.Ordinal);
        CliResult weight = CliRunner.Run(work.Path, "generate", "--model", "sdxl", "--prompt", "x", "--aesthetic-weight", "2", "--out", "bad.png");
        Assert.Equal(1, weight.ExitCode);
        Assert.Contains("--aesthetic-weight", weight.Stderr, StringComparison.Ordinal);
    }
}

using Viper.Backends.Cpu;
using Viper.Imaging;
using Viper.Models.Checkpoints;
using Viper.Models.Idefics2;
using Viper.Models.Mistral;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Benchmarks;

/// <summary>
/// IDEFICS2 at a medium random size (vision 384 wide × 6 layers on 14-pixel patches, 32 latents, a 1024-wide 8-layer
/// Mistral with 4 key-value heads) written once under $VIPER_BENCH_PIPELINES/idefics2-medium, with the ViPer workloads:
/// the extractor's prompt over 8 commented images (ViPer's 448 / 378 processor), 32 greedy tokens, and the metric's 8
/// context pairs scored against 10 queries. <see cref="ExportInputs"/> writes the ids and pixels
/// benchmarks/torch/bench_cpu_idefics2.py feeds its PyTorch model, so both sides run the same tensors.
/// </summary>
internal static class Idefics2Workload
{
    public const int Images = 8, Pairs = 8, Queries = 10, DecodeTokens = 32;

    public static Idefics2Config MediumConfig { get; } = new(
        new Idefics2VisionConfig { HiddenSize = 384, IntermediateSize = 1536, NumHiddenLayers = 6, NumAttentionHeads = 6, ImageSize = 448, PatchSize = 14 },
        new Idefics2PerceiverConfig { ResamplerNLatents = 32, ResamplerDepth = 2, ResamplerNHeads = 8, ResamplerHeadDim = 64, NumKeyValueHeads = 2 },
        new MistralConfig
        {
            VocabSize = 32003, HiddenSize = 1024, IntermediateSize = 3584, NumHiddenLayers = 8, NumAttentionHeads = 16, NumKeyValueHeads = 4,
            MaxPositionEmbeddings = 32768, RmsNormEps = 1e-5f,
        },
        ImageTokenId: 32001);

    public static string Folder => Path.Combine(Environment.GetEnvironmentVariable("VIPER_BENCH_PIPELINES") ?? Path.Combine("artifacts", "bench"), "idefics2-medium");

    /// <summary>Mistral's SentencePiece model as the repository ships it (assets/mistral-tokenizer).</summary>
    public static string TokenizerModel =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "assets", "mistral-tokenizer", "tokenizer.model"));

    /// <summary>Writes the medium folder once (random weights, seed 0).</summary>
    public static string EnsureFolder()
    {
        if (!File.Exists(Path.Combine(Folder, "model.safetensors")))
        {
            using var cpu = new CpuBackend();
            TinyIdefics2.Write(Folder, TokenizerModel, cpu, seed: 0, config: MediumConfig);
        }

        return Folder;
    }

    /// <summary>Deterministic test pictures of the sizes photos come in (landscape, portrait, square), smooth gradients with noise.</summary>
    public static RgbImage Picture(int index)
    {
        (int w, int h) = (index % 3) switch { 0 => (640, 480), 1 => (480, 640), _ => (512, 512) };
        var rng = new Random(index);
        byte[] pixels = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                pixels[(i * 3) + c] = (byte)((((i % w) * (c + 1)) + ((i / w) * (3 - c)) + rng.Next(32) + (index * 37)) % 256);
            }
        }

        return new RgbImage(w, h, pixels);
    }

    public static string[] Comments => [.. Enumerable.Range(0, Images).Select(i => $"Comment number {i + 1}: I like the soft light and the calm colours here, less so the busy corners.")];

    public static Idefics2Chat LoadChat(IBackend backend) =>
        Idefics2Chat.Load(EnsureFolder(), backend, DType.F32, new ChatLoadOptions { Processor = PreferenceExtractor.ViperImageSettings });

    public static ChatPrompt ExtractorPrompt(Idefics2Chat chat) =>
        chat.Prepare(PreferenceExtractor.Prompt(Comments), [.. Enumerable.Range(0, Images).Select(Picture)]);

    public static (RgbImage[] Disliked, RgbImage[] Liked, RgbImage[] Queries) MetricImages() =>
        ([.. Enumerable.Range(0, Pairs).Select(i => Picture(100 + i))], [.. Enumerable.Range(0, Pairs).Select(i => Picture(200 + i))],
         [.. Enumerable.Range(0, Queries).Select(i => Picture(300 + i))]);

    /// <summary>The extractor prompt and each metric prompt (context + one query, as metric.py recomputes it) as ids and pixels.</summary>
    public static void ExportInputs(Idefics2Chat chat, string path)
    {
        var tensors = new List<TensorData>();
        Add(tensors, "extractor", ExtractorPrompt(chat));
        (RgbImage[] disliked, RgbImage[] liked, RgbImage[] queries) = MetricImages();
        RgbImage[] context = [.. disliked.Zip(liked).SelectMany(p => new[] { p.First, p.Second })];
        for (int q = 0; q < queries.Length; q++)
        {
            Add(tensors, $"metric{q}", chat.Prepare(ProxyMetric.Prompt(Pairs), [.. context, queries[q]]));
        }

        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static void Add(List<TensorData> tensors, string name, ChatPrompt prompt)
    {
        ProcessedImages p = prompt.Images!;
        tensors.Add(new TensorData($"{name}_ids", DType.I32, new Shape(prompt.Ids.Count), HostTensors.EncodeInts([.. prompt.Ids])));
        tensors.Add(new TensorData($"{name}_pixels", DType.F32, new Shape(p.Count, 3, p.Height, p.Width), HostTensors.EncodeFloats(p.PixelValues, DType.F32)));
        tensors.Add(new TensorData($"{name}_mask", DType.U8, new Shape(p.Count, p.Height, p.Width), p.PixelMask));
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Models.Checkpoints;
using Viper.Models.Idefics2;
using Viper.Models.Tokenizers;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks idefics2-decode BACKEND SIZE NEW_TOKENS OUT.json [FORMAT]</c>: the extractor's work on IDEFICS2 at SIZE
/// (<c>8b</c>: idefics2-8b's shape, 8.4 B parameters; <c>medium</c>: <see cref="Idefics2Workload.MediumConfig"/>;
/// <c>tiny</c>: the refs' sizes) with tiled random bf16 weights built on BACKEND (<c>cuda</c>, <c>cuda-emulated</c>,
/// <c>cpu</c>) — the chat `viper chat` runs, over the VPE prompt with 8 commented images at ViPer's processor settings:
/// one prefill, then NEW_TOKENS greedy tokens with the authors' 0.99 repetition penalty and no end id (so exactly that
/// many). Warm-up first (kernels compiled, the decode graph recorded), then one timed prefill and one timed decode —
/// single runs, not a benchmark statistic. Issue 14's goal: ≥ 200 decode tokens/s for the 8B in bf16 on an H100. FORMAT
/// (int8, q8_0, q4_0, fp8; default bf16) keeps the linear weights in that format.
/// </summary>
internal static class Idefics2Decode
{
    private const int WarmupTokens = 4;

    public static int Run(string[] args)
    {
        Idefics2Config? config = args.Length is not (4 or 5) ? null : args[1] switch
        {
            "8b" => Idefics2Config.Default8B,
            "medium" => Idefics2Workload.MediumConfig,
            "tiny" => TinyIdefics2.Config,
            _ => null,
        };
        if (config is null || args[0] is not ("cuda" or "cuda-emulated" or "cpu")
            || !int.TryParse(args[2], CultureInfo.InvariantCulture, out int newTokens) || newTokens <= WarmupTokens
            || (args.Length == 5 && WeightFormat.Parse(args[4]) is null))
        {
            Console.Error.WriteLine($"usage: idefics2-decode cuda|cuda-emulated|cpu 8b|medium|tiny NEW_TOKENS(>{WarmupTokens}) OUT.json [bf16|int8|q8_0|q4_0|fp8]");
            return 1;
        }

        DType format = args.Length == 5 ? WeightFormat.Parse(args[4])!.Value : DType.BF16;

        using IBackend backend = args[0] switch
        {
            "cuda" => new CudaBackend(new DriverDevice()),
            "cuda-emulated" => new CudaBackend(new EmulatedDevice()),
            _ => new CpuBackend(),
        };

        var clock = Stopwatch.StartNew();
        var weights = new TiledRandomWeights(backend, DType.BF16, format == DType.BF16 ? null : format);
        using Idefics2Chat chat = Idefics2Chat.Create(new Idefics2ForConditionalGeneration(weights.Root, config), Tokenizer(),
            PreferenceExtractor.ViperImageSettings(new Imaging.Idefics2ImageProcessor()), new GenerationConfig([]));
        double buildMs = clock.Elapsed.TotalMilliseconds;
        ChatPrompt prompt = Idefics2Workload.ExtractorPrompt(chat);
        var options = new ChatOptions { MaxNewTokens = newTokens, RepetitionPenalty = 0.99f };

        using (ChatSession warm = chat.Prefill(prompt, newTokens))
        {
            _ = warm.Generate(options with { MaxNewTokens = WarmupTokens }).Count();
        }

        using ChatSession session = chat.Prefill(prompt, newTokens);
        _ = session.Generate(options with { MaxNewTokens = WarmupTokens }).Count(); // records this session's decode graph
        int generated = session.Generate(options).Count();
        (int tokens, TimeSpan decode) = session.LastDecode;
        // The first new token comes from the prefill's logits; each later one is one decode forward.
        double decodeTokensPerSecond = (tokens - 1) / decode.TotalSeconds;
        var result = new
        {
            backend = args[0], size = args[1], dtype = "bf16", weights = format.Label(),
            weight_bytes = weights.Parameters.Names.Sum(n => weights.Parameters[n].SizeInBytes), build_ms = buildMs,
            prompt_tokens = prompt.Ids.Count, images = Idefics2Workload.Images,
            prefill_ms = session.PrefillTime.TotalMilliseconds, prefill_tokens_per_s = prompt.Ids.Count / session.PrefillTime.TotalSeconds,
            new_tokens = generated, decode_ms = decode.TotalMilliseconds, decode_tokens_per_s = decodeTokensPerSecond,
            decode_graph = session.DecodesWithGraph,
        };
        string json = JsonSerializer.Serialize(result);
        File.WriteAllText(args[3], json);
        Console.WriteLine(json);
        return 0;
    }

    private static MistralTokenizer Tokenizer() =>
        MistralTokenizer.FromModel(Idefics2Workload.TokenizerModel, TinyIdefics2.AddedTokens.ToDictionary(t => t.Token, t => t.Id));
}

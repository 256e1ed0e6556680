using LLama;
using LLama.Common;
using LLama.Native;

namespace Viper.Benchmarks;

/// <summary>
/// llama.cpp (LLamaSharp.Backend.Cpu 0.30.0) holding a <see cref="MistralStack"/>: its weights written by
/// <see cref="GgufWriter"/> (in a format both engines have: bf16, q8_0, q4_0), a prompt of the same length prefilled,
/// the CPU backend's thread count. <see cref="Decode"/> decodes the token after the prompt (its
/// cache entry removed first, as the engine's stack truncates its cache), so both sides time one decode step at the same
/// context length.
/// </summary>
internal sealed class LlamaCppStack : IDisposable
{
    private readonly string _folder;
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();
    private readonly int _promptTokens;

    /// <param name="stack">Not yet decoded: a decode may rearrange its weights in place into the CPU backend's decode layouts.</param>
    public LlamaCppStack(MistralStack stack)
    {
        _folder = Directory.CreateTempSubdirectory("viper-gguf-").FullName;
        _promptTokens = stack.PromptTokens;
        string path = Path.Combine(_folder, "stack.gguf");
        GgufWriter.Write(path, stack.Config, stack.Weights.Parameters);

        Threads = Environment.ProcessorCount;
        GgufBytes = new FileInfo(path).Length;
        var parameters = new ModelParams(path)
        {
            ContextSize = 1024, BatchSize = 512, UBatchSize = 512, Threads = Threads, BatchThreads = Threads, GpuLayerCount = 0,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        var rng = new Random(3);
        for (int i = 0; i < _promptTokens; i++)
        {
            _batch.Add(rng.Next(259, 32000), i, LLamaSeqId.Zero, i == _promptTokens - 1);
        }

        Check(_context.Decode(_batch));
    }

    /// <summary>The formats llama.cpp shares with the engine.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["bf16", "q8_0", "q4_0"];

    public int Threads { get; }

    public long GgufBytes { get; }

    public void Decode()
    {
        _context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, _promptTokens, -1);
        _batch.Clear();
        _batch.Add(1234, _promptTokens, LLamaSeqId.Zero, true);
        Check(_context.Decode(_batch));
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama.cpp decode failed: {result}");
        }
    }
}

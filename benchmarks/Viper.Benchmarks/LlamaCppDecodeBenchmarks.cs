using BenchmarkDotNet.Attributes;
using LLama;
using LLama.Common;
using LLama.Native;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// llama.cpp (LLamaSharp.Backend.Cpu 0.30.0) on the stack <see cref="DecodeFormatBenchmarks"/> times: the same random
/// weights, written by <see cref="GgufWriter"/> in the formats both engines have (bf16, q8_0, q4_0), the same 512-token
/// prompt length and threads. Each measured call decodes the token after the prompt (its cache entry removed first, as
/// the engine's benchmark truncates its cache), so both sides time one decode step at a 512-token context; each format's
/// read bandwidth is timed right after it, as the engine's is.
/// </summary>
[Config(typeof(DecodeFormatBenchmarks.DecodeConfig))]
public class LlamaCppDecodeBenchmarks
{
    private string _folder = null!;
    private LLamaWeights _weights = null!;
    private LLamaContext _context = null!;
    private LLamaBatch _batch = null!;
    private ReadBandwidth _read = null!;

    [Params("bf16", "q8_0", "q4_0")]
    public string Format { get; set; } = "bf16";

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("viper-gguf-").FullName;
        string path = Path.Combine(_folder, $"stack-{Format}.gguf");
        Runtime.DType format = WeightFormat.Parse(Format)!.Value;
        using (var backend = new CpuBackend())
        using (var stack = new MistralStack(backend, DecodeFormatBenchmarks.Layers, DecodeFormatBenchmarks.PromptTokens, format == Runtime.DType.BF16 ? null : format))
        {
            GgufWriter.Write(path, stack.Config, stack.Weights.Parameters);
        }

        int threads = Environment.ProcessorCount;
        var parameters = new ModelParams(path)
        {
            ContextSize = 1024, BatchSize = 512, UBatchSize = 512, Threads = threads, BatchThreads = threads, GpuLayerCount = 0,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        _batch = new LLamaBatch();
        var rng = new Random(3);
        for (int i = 0; i < DecodeFormatBenchmarks.PromptTokens; i++)
        {
            _batch.Add(rng.Next(259, 32000), i, LLamaSeqId.Zero, i == DecodeFormatBenchmarks.PromptTokens - 1);
        }

        Check(_context.Decode(_batch));
        _read = new ReadBandwidth();
        Console.WriteLine($"// llama.cpp {Format}: {new FileInfo(path).Length} bytes of GGUF, {threads} threads");
    }

    [Benchmark]
    public void Decode()
    {
        _context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, DecodeFormatBenchmarks.PromptTokens, -1);
        _batch.Clear();
        _batch.Add(1234, DecodeFormatBenchmarks.PromptTokens, LLamaSeqId.Zero, true);
        Check(_context.Decode(_batch));
    }

    [Benchmark]
    public float Read() => _read.Read();

    [GlobalCleanup]
    public void Cleanup()
    {
        _read.Dispose();
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

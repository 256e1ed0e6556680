using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// llama.cpp on the stack <see cref="DecodeFormatBenchmarks"/> times (<see cref="LlamaCppStack"/>: the same random weights
/// as GGUF, the same 512-token prompt length and threads), one decode step per call; each format's read bandwidth is
/// timed right after it, as the engine's is.
/// </summary>
[Config(typeof(DecodeFormatBenchmarks.DecodeConfig))]
public class LlamaCppDecodeBenchmarks
{
    private LlamaCppStack _stack = null!;
    private ReadBandwidth _read = null!;

    [Params("bf16", "q8_0", "q4_0")]
    public string Format { get; set; } = "bf16";

    [GlobalSetup]
    public void Setup()
    {
        Runtime.DType format = WeightFormat.Parse(Format)!.Value;
        using (var backend = new CpuBackend())
        using (var weights = new MistralStack(backend, DecodeFormatBenchmarks.Layers, DecodeFormatBenchmarks.PromptTokens, format == Runtime.DType.BF16 ? null : format))
        {
            _stack = new LlamaCppStack(weights);
        }

        _read = new ReadBandwidth();
        Console.WriteLine($"// llama.cpp {Format}: {_stack.GgufBytes} bytes of GGUF, {_stack.Threads} threads");
    }

    [Benchmark]
    public void Decode() => _stack.Decode();

    [Benchmark]
    public float Read() => _read.Read();

    [GlobalCleanup]
    public void Cleanup()
    {
        _read.Dispose();
        _stack.Dispose();
    }
}

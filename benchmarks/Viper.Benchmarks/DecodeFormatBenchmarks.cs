using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// One decode step after a 512-token prompt on the Mistral-7B-shaped stack ($VIPER_BENCH_DECODE_LAYERS layers, default 4,
/// + the 32000-token head) with its linear weights in each format (benchmarks/run-cpu-decode.sh). The same run measures
/// the machine's read bandwidth (<see cref="ReadBandwidthBenchmarks"/>) and llama.cpp on the same weights
/// (<see cref="LlamaCppDecodeBenchmarks"/>), so the table's percentages and ratios come from one run.
/// </summary>
[Config(typeof(DecodeConfig))]
public class DecodeFormatBenchmarks
{
    public const int PromptTokens = 512;

    private MistralStack _stack = null!;

    [ParamsSource(nameof(Formats))]
    public string Format { get; set; } = "bf16";

    public static IEnumerable<string> Formats => WeightFormat.Names;

    public static int Layers => int.TryParse(Environment.GetEnvironmentVariable("VIPER_BENCH_DECODE_LAYERS"), out int n) ? n : 4;

    [GlobalSetup]
    public void Setup()
    {
        Runtime.DType format = WeightFormat.Parse(Format)!.Value;
        _stack = new MistralStack(new CpuBackend(), Layers, PromptTokens, format == Runtime.DType.BF16 ? null : format);
        _stack.Prefill();
        Console.WriteLine($"// decode-format {Format}: streamed_bytes={_stack.StreamedBytes} weight_bytes={_stack.WeightBytes} layers={Layers}");
    }

    [Benchmark]
    public void Decode() => _stack.Decode();

    [GlobalCleanup]
    public void Cleanup()
    {
        _stack.Dispose();
        _stack.Backend.Dispose();
    }

    internal sealed class DecodeConfig() : BenchmarkConfig(warmups: 6, iterations: 10, TimeSpan.FromMinutes(20));
}

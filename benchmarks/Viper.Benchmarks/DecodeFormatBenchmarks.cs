using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Running;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// One decode step after a 512-token prompt on the Mistral-7B-shaped stack ($VIPER_BENCH_DECODE_LAYERS layers, default 4,
/// + the 32000-token head) with its linear weights in each format (benchmarks/run-cpu-decode.sh), and right after it the
/// machine's read bandwidth (<see cref="ReadBandwidth"/>, same threads): each format's % of the read comes from a read
/// measured next to it. The same run times llama.cpp on the same weights the same way (<see cref="LlamaCppDecodeBenchmarks"/>).
/// </summary>
[Config(typeof(DecodeConfig))]
public class DecodeFormatBenchmarks
{
    public const int PromptTokens = 512;

    private MistralStack _stack = null!;
    private ReadBandwidth _read = null!;

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
        _read = new ReadBandwidth();
        Console.WriteLine($"// decode-format {Format}: streamed_bytes={_stack.StreamedBytes} weight_bytes={_stack.WeightBytes} layers={Layers}");
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
        _stack.Backend.Dispose();
    }

    internal sealed class DecodeConfig : BenchmarkConfig
    {
        public DecodeConfig()
            : base(warmups: 6, iterations: 10, TimeSpan.FromMinutes(20)) => Orderer = new FormatThenMethod();
    }

    /// <summary>Runs a format's cases one after the other (its decode, then its read), format by format.</summary>
    private sealed class FormatThenMethod : DefaultOrderer
    {
        public FormatThenMethod()
            : base(SummaryOrderPolicy.Default)
        {
        }

        public override IEnumerable<BenchmarkCase> GetExecutionOrder(ImmutableArray<BenchmarkCase> benchmarkCases, IEnumerable<BenchmarkLogicalGroupRule>? order = null) =>
            benchmarkCases.OrderBy(c => Formats.ToList().IndexOf((string)c.Parameters["Format"]))
                .ThenBy(c => c.Descriptor.WorkloadMethod.Name == nameof(Read) ? 1 : 0);
    }
}

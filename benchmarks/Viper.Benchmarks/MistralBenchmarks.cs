using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// Prefill of a 512-token prompt and one decode step on a Mistral-7B-shaped bf16 stack on the CPU backend
/// ($VIPER_BENCH_MISTRAL_LAYERS layers, default 1; benchmarks/run-cpu-mistral.sh). Peak memory is measured separately,
/// in a process of its own (<see cref="MistralMemory"/>), because in-process benchmarks share the host's peak.
/// </summary>
[Config(typeof(MistralConfigJob))]
public class MistralBenchmarks
{
    private MistralStack _stack = null!;

    [Params("prefill_512", "decode_after_512")]
    public string Case { get; set; } = "prefill_512";

    public static int Layers => int.TryParse(Environment.GetEnvironmentVariable("VIPER_BENCH_MISTRAL_LAYERS"), out int n) ? n : 1;

    [GlobalSetup]
    public void Setup()
    {
        _stack = new MistralStack(new CpuBackend(), Layers, promptTokens: 512);
        if (Case == "decode_after_512")
        {
            _stack.Prefill();
        }
    }

    [Benchmark]
    public void Step()
    {
        if (Case == "prefill_512")
        {
            _stack.Prefill();
        }
        else
        {
            _stack.Decode();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stack.Dispose();
        _stack.Backend.Dispose();
    }

    /// <summary>Prefills take seconds each: 1 warm-up and 5 measured runs.</summary>
    private sealed class MistralConfigJob() : BenchmarkConfig(warmups: 1, iterations: 5, TimeSpan.FromMinutes(20));
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks mistral-memory LAYERS OUT.json</c>: builds the bf16 Mistral-7B-shaped stack in this process alone,
/// runs one 512-token prefill and one decode step, and writes the weight bytes, the process's peak resident set
/// (VmHWM) and their ratio, with the two wall times (one run each, not a benchmark statistic).
/// </summary>
internal static class MistralMemory
{
    public static int Run(string[] args)
    {
        int layers = int.Parse(args[0], CultureInfo.InvariantCulture);
        using var backend = new CpuBackend();
        using var stack = new MistralStack(backend, layers, promptTokens: 512);
        var clock = Stopwatch.StartNew();
        stack.Prefill();
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        stack.Decode();
        double decodeMs = clock.Elapsed.TotalMilliseconds;
        long peak = PeakResidentBytes();
        var result = new
        {
            layers, weight_bytes = stack.WeightBytes, peak_rss_bytes = peak, ratio = (double)peak / stack.WeightBytes,
            prefill_ms = prefillMs, decode_ms = decodeMs, threads = backend.Threads,
        };
        File.WriteAllText(args[1], JsonSerializer.Serialize(result));
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static long PeakResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}

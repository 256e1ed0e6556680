using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks mistral-memory LAYERS OUT.json [FORMAT]</c>: builds the Mistral-7B-shaped stack (bf16, or its
/// linear weights in FORMAT: int8, q8_0, q4_0, fp8) in this process alone, runs one 512-token prefill and one decode
/// step, and writes the weight bytes, the process's peak resident set (VmHWM) and their ratio, with the two wall times
/// (one run each, not a benchmark statistic).
/// </summary>
internal static class MistralMemory
{
    public static int Run(string[] args)
    {
        int layers = int.Parse(args[0], CultureInfo.InvariantCulture);
        string format = args.Length > 2 ? args[2] : "bf16";
        Runtime.DType dtype = WeightFormat.Parse(format) ?? throw new ArgumentException($"unknown format '{format}' ({string.Join(", ", WeightFormat.Names)})");
        using var backend = new CpuBackend();
        using var stack = new MistralStack(backend, layers, promptTokens: 512, dtype == Runtime.DType.BF16 ? null : dtype);
        var clock = Stopwatch.StartNew();
        stack.Prefill();
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        stack.Decode();
        double decodeMs = clock.Elapsed.TotalMilliseconds;
        long peak = PeakResidentBytes();
        var result = new
        {
            layers, format, weight_bytes = stack.WeightBytes, peak_rss_bytes = peak, ratio = (double)peak / stack.WeightBytes,
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

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Viper.Backends.Cpu;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks decode-paired OUT.json [ROUNDS]</c>: per weight format, in one process, the engine's decode step
/// (<see cref="MistralStack"/>, $VIPER_BENCH_DECODE_LAYERS layers + the head, 512-token context), llama.cpp's on the
/// same weights where it has the format (<see cref="LlamaCppStack"/>), and the 1 GiB read (<see cref="ReadBandwidth"/>)
/// in alternation — read, step, read, step, … with the two engines taking turns going first — for ROUNDS rounds
/// (default 30). Each step is set against the mean of the reads just before and after it, and llama.cpp's step against
/// the engine's of the same round. On a host whose read bandwidth drifts by half within minutes (30–67 GB/s in a day),
/// BenchmarkDotNet's medians of separate processes minutes apart (<see cref="DecodeFormatBenchmarks"/>) compare
/// different spells; these per-round ratios compare the same seconds. Each phase starts after a 10 ms pause, so the
/// threads of the phase before (the engine's workers spin 2 ms, llama.cpp's poll) are idle when it is timed.
/// </summary>
internal static class DecodePaired
{
    private const int WarmupSteps = 6;

    public static int Run(string[] args)
    {
        int rounds = 30;
        if (args.Length is < 1 or > 2 || (args.Length == 2 && (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds < 4)))
        {
            Console.Error.WriteLine("usage: decode-paired OUT.json [ROUNDS, at least 4]");
            return 1;
        }

        using var read = new ReadBandwidth();
        var results = WeightFormat.Names.Select(format => Measure(format, rounds, read)).ToList();
        File.WriteAllText(args[0], JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static Dictionary<string, object?> Measure(string format, int rounds, ReadBandwidth read)
    {
        Runtime.DType dtype = WeightFormat.Parse(format)!.Value;
        using var backend = new CpuBackend();
        using var ours = new MistralStack(backend, DecodeFormatBenchmarks.Layers, DecodeFormatBenchmarks.PromptTokens, dtype == Runtime.DType.BF16 ? null : dtype);
        using LlamaCppStack? theirs = LlamaCppStack.Formats.Contains(format) ? new LlamaCppStack(ours) : null;
        ours.Prefill();
        for (int i = 0; i < WarmupSteps; i++)
        {
            ours.Decode();
            theirs?.Decode();
        }

        var ourSteps = new List<Step>();
        var theirSteps = new List<Step>();
        double before = ReadGbs(read);
        for (int r = 0; r < rounds; r++)
        {
            bool oursFirst = r % 2 == 0 || theirs is null;
            foreach (bool isOurs in theirs is null ? [true] : oursFirst ? new[] { true, false } : [false, true])
            {
                double ms = Milliseconds(isOurs ? ours.Decode : theirs!.Decode);
                double after = ReadGbs(read);
                (isOurs ? ourSteps : theirSteps).Add(new Step(ms, (before + after) / 2));
                before = after;
            }
        }

        double Share(Step s) => ours.StreamedBytes / (s.Milliseconds / 1e3) / 1e9 / s.ReadGbs;
        var result = new Dictionary<string, object?>
        {
            ["format"] = format,
            ["layers"] = DecodeFormatBenchmarks.Layers,
            ["rounds"] = rounds,
            ["threads"] = backend.Threads,
            ["streamed_bytes"] = ours.StreamedBytes,
            ["viper_ms"] = Quartiles(ourSteps.Select(s => s.Milliseconds)),
            ["viper_share_of_read"] = Quartiles(ourSteps.Select(Share)),
            ["reads_gbs"] = Quartiles(ourSteps.Concat(theirSteps).Select(s => s.ReadGbs)),
            ["llama_ms"] = null,
            ["llama_share_of_read"] = null,
            ["llama_over_viper_ms"] = null,
        };
        if (theirs is not null)
        {
            result["llama_ms"] = Quartiles(theirSteps.Select(s => s.Milliseconds));
            result["llama_share_of_read"] = Quartiles(theirSteps.Select(Share));
            result["llama_over_viper_ms"] = Quartiles(ourSteps.Zip(theirSteps, (o, t) => t.Milliseconds / o.Milliseconds));
        }

        Console.WriteLine($"// decode-paired {format}: {JsonSerializer.Serialize(result)}");
        return result;
    }

    private static double Milliseconds(Action action)
    {
        Thread.Sleep(10);
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double ReadGbs(ReadBandwidth read) => ReadBandwidth.Bytes / (Milliseconds(() => read.Read()) / 1e3) / 1e9;

    /// <summary>Minimum, first quartile, median, third quartile and maximum (nearest rank).</summary>
    private static double[] Quartiles(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        double At(double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];
        return [sorted[0], At(0.25), At(0.5), At(0.75), sorted[^1]];
    }

    /// <summary>One timed decode step of a round and the mean of the reads on either side of it.</summary>
    private readonly record struct Step(double Milliseconds, double ReadGbs);
}

using System.Diagnostics;
using System.Text.Json;
using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Emulation;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks two-devices OUT.json</c>: whether two jobs on two devices take about as long as one job on one — the
/// issue's "concurrent jobs on two devices finish in about the time of one". Two emulated devices, each running its blocks
/// on half the cores (as VIPER_EMU_DEVICES=2 sets them up), each with the tiny SD pipeline loaded; one generation (4 Euler
/// steps, 64², ViPer's four evaluations per step) is a job. Timed, after a warm-up on each device: one job on device 0; two
/// jobs one after the other on device 0; two jobs at once, one per device. Median of 5 of each; the host's own work (the
/// schedulers, the uploads) competes for the same cores, so "about" is the honest word.
/// </summary>
internal static class TwoDeviceJobs
{
    private const int Repeats = 5;

    public static int Run(string[] args)
    {
        if (args is not [var outPath])
        {
            Console.Error.WriteLine("usage: two-devices OUT.json");
            return 1;
        }

        int threads = EmulatedDevices.Parse("2").ThreadsPerDevice!.Value;
        string folder = Path.Combine(Path.GetTempPath(), $"viper-two-devices-{Environment.ProcessId}");
        using (var cpu = new CpuBackend())
        {
            TinyPipeline.Write("tiny-sd", folder, RepositoryPaths.Under("assets", "clip-tokenizer"), cpu, seed: 1);
        }

        try
        {
            using var first = new CudaBackend(new EmulatedDevice(ordinal: 0, threads: threads));
            using var second = new CudaBackend(new EmulatedDevice(ordinal: 1, threads: threads));
            using ViperPipeline a = ViperPipeline.Load(folder, first), b = ViperPipeline.Load(folder, second);
            var request = new GenerationRequest
            {
                Prompt = "a lighthouse at dawn", Preference = VisualPreference.FromLists("watercolor", "neon"), Steps = 4, Seed = 3,
            };
            a.Generate(request);
            b.Generate(request);
            double one = Median(() => a.Generate(request));
            double sequential = Median(() => { a.Generate(request); a.Generate(request); });
            double concurrent = Median(() => Task.WaitAll(Task.Run(() => a.Generate(request)), Task.Run(() => b.Generate(request))));
            var result = new
            {
                workload = "tiny-sd, 64x64, 4 Euler steps, ViPer reference form; emulated devices",
                cores = Environment.ProcessorCount, threadsPerDevice = threads, repeats = Repeats,
                oneJobOneDeviceMs = one, twoJobsOneDeviceMs = sequential, twoJobsTwoDevicesMs = concurrent,
                concurrentOverOne = concurrent / one, sequentialOverOne = sequential / one,
            };
            File.WriteAllText(outPath, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(FormattableString.Invariant(
                $"one job, one device: {one:F0} ms; two jobs, one device: {sequential:F0} ms ({sequential / one:F2}x); two jobs, two devices at once: {concurrent:F0} ms ({concurrent / one:F2}x)"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double Median(Action run)
    {
        double[] times = new double[Repeats];
        for (int i = 0; i < Repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }

        Array.Sort(times);
        return times[Repeats / 2];
    }
}

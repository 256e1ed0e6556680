using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StackExchange.Redis;
using Viper.Backends.Cpu;
using Viper.Pipelines;
using Viper.Studio.Distributed;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks redis-workers OUT.json</c>: jobs through Redis Streams (issue 33). A redis-server on a loopback port,
/// `viper worker` processes (CPU backend, one thread each) on the tiny SD pipeline, studio generate jobs (64², 4 steps,
/// ViPer's preference: a personalized and a plain image each). Throughput: 36 jobs on 1 worker and on 3, after every worker
/// has run a job (its models resident). Overhead of the queue path: enqueue → the job's first "base" progress event on a warm,
/// idle worker, against the same moment in this process (call → first "base" progress of the same pipeline), median of 9;
/// events are polled every 5 ms, so the figure is ±5 ms.
/// </summary>
internal static class RedisWorkerThroughput
{
    private const int Jobs = 36, OverheadRuns = 9;

    public static int Run(string[] args)
    {
        if (args is not [var outPath])
        {
            Console.Error.WriteLine("usage: redis-workers OUT.json");
            return 1;
        }

        string root = Path.Combine(Path.GetTempPath(), $"viper-redis-workers-{Environment.ProcessId}");
        string model = Path.Combine(root, "tiny-sd"), workspace = Path.Combine(root, "ws");
        using (var cpu = new CpuBackend())
        {
            TinyPipeline.Write("tiny-sd", model, RepositoryPaths.Under("assets", "clip-tokenizer"), cpu, seed: 1);
        }

        int port = FreePort();
        using Process redisServer = Process.Start(new ProcessStartInfo("/usr/bin/redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --dir {root}")
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            Thread.Sleep(500);
            using ConnectionMultiplexer redis = ConnectionMultiplexer.Connect($"127.0.0.1:{port},allowAdmin=true");
            var jobs = new RedisJobs(redis.GetDatabase());
            jobs.EnsureGroupAsync().GetAwaiter().GetResult();
            IDatabase db = redis.GetDatabase();
            double one = JobsPerMinute(jobs, db, port, model, workspace, workers: 1);
            double three = JobsPerMinute(jobs, db, port, model, workspace, workers: 3);
            (double queued, double local) = Overhead(jobs, port, model, workspace);
            var result = new
            {
                workload = "tiny-sd 64x64, 4 Euler steps, studio generate job (personalized + plain image); CPU backend, 1 thread per worker",
                cores = Environment.ProcessorCount, jobs = Jobs, oneWorkerJobsPerMinute = one, threeWorkersJobsPerMinute = three, speedup = three / one,
                enqueueToFirstStepMs = queued, inProcessToFirstStepMs = local, queueOverheadMs = queued - local,
            };
            File.WriteAllText(outPath, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(FormattableString.Invariant(
                $"1 worker: {one:F1} jobs/min; 3 workers: {three:F1} jobs/min ({three / one:F2}x); enqueue → first step {queued:F0} ms, in-process {local:F0} ms: queue overhead {queued - local:F0} ms"));
            return 0;
        }
        finally
        {
            redisServer.Kill();
            Directory.Delete(root, recursive: true);
        }
    }

    private static double JobsPerMinute(RedisJobs jobs, IDatabase db, int port, string model, string workspace, int workers)
    {
        List<Process> started = [.. Enumerable.Range(0, workers).Select(i => StartWorker(port, model, workspace, $"w{workers}-{i}"))];
        try
        {
            // Warm-up until every worker has run a job (and so holds its model): the timed jobs then load nothing.
            var warm = new HashSet<string>();
            for (ulong seed = 0; warm.Count < workers; seed++)
            {
                string id = Enqueue(jobs, seed);
                WaitAll(jobs, [id]);
                warm.Add(db.HashGet($"viper:job:{id}", "worker").ToString());
            }

            var clock = Stopwatch.StartNew();
            WaitAll(jobs, [.. Enumerable.Range(0, Jobs).Select(i => Enqueue(jobs, (ulong)(100 + i)))]);
            return Jobs / clock.Elapsed.TotalMinutes;
        }
        finally
        {
            started.ForEach(Stop);
        }
    }

    private static (double Queued, double Local) Overhead(RedisJobs jobs, int port, string model, string workspace)
    {
        Process worker = StartWorker(port, model, workspace, "overhead");
        double[] queued = new double[OverheadRuns];
        try
        {
            WaitAll(jobs, [Enqueue(jobs, 0)]);
            for (int i = 0; i < OverheadRuns; i++)
            {
                var clock = Stopwatch.StartNew();
                string id = Enqueue(jobs, (ulong)(200 + i));
                while (!jobs.EventsAsync(id).GetAwaiter().GetResult().Any(e => e.Type == "progress" && e.Data["stage"]?.GetValue<string>() == "base"))
                {
                    Thread.Sleep(5);
                }

                queued[i] = clock.Elapsed.TotalMilliseconds;
                WaitAll(jobs, [id]);
            }
        }
        finally
        {
            Stop(worker);
        }

        using var cpu = new CpuBackend(threads: 1);
        using ViperPipeline pipeline = ViperPipeline.Load(model, cpu);
        var request = new GenerationRequest { Prompt = "a lighthouse", Preference = VisualPreference.FromLists("watercolor", "neon"), Steps = 4, Seed = 1 };
        pipeline.Generate(request);
        double[] local = new double[OverheadRuns];
        for (int i = 0; i < OverheadRuns; i++)
        {
            var clock = Stopwatch.StartNew();
            double first = 0;
            pipeline.Generate(request, new SynchronousProgress<GenerationProgress>(p =>
            {
                if (p.Stage == "base" && first == 0)
                {
                    first = clock.Elapsed.TotalMilliseconds;
                }
            }));
            local[i] = first;
        }

        return (Median(queued), Median(local));
    }

    private static string Enqueue(RedisJobs jobs, ulong seed) => jobs.EnqueueAsync("generate", JsonSerializer.Serialize(new
    {
        prompt = "a lighthouse", seed, steps = 4, preference = new { likes = new[] { "watercolor" }, dislikes = new[] { "neon" } },
    }), 1000).GetAwaiter().GetResult() ?? throw new InvalidOperationException("the queue is full");

    private static void WaitAll(RedisJobs jobs, string[] ids)
    {
        foreach (string id in ids)
        {
            while (jobs.ResultAsync(id).GetAwaiter().GetResult() is null)
            {
                Thread.Sleep(5);
            }
        }
    }

    private static Process StartWorker(int port, string model, string workspace, string name)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { RepositoryPaths.Under("src", "Viper.Cli", "bin", "Release", "net10.0", "viper.dll"), "worker", "--redis", $"redis://127.0.0.1:{port}",
            "--workspace", workspace, "--model", model, "--threads", "1", "--name", name })
        {
            start.ArgumentList.Add(arg);
        }

        Process worker = Process.Start(start)!;
        worker.OutputDataReceived += (_, _) => { };
        worker.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
            {
                Console.Error.WriteLine($"worker {name}: {e.Data}");
            }
        };
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        return worker;
    }

    private static void Stop(Process worker)
    {
        worker.Kill();
        worker.WaitForExit();
        worker.Dispose();
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        return sorted[sorted.Length / 2];
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Viper.Engine.Tests.Support;
using Viper.Studio;
using Viper.Studio.Distributed;
using Viper.Studio.Jobs;
using Viper.Studio.Library;
using Viper.Studio.Work;
using static Viper.Engine.Tests.Support.StudioClient;

namespace Viper.Engine.Tests.Distributed;

/// <summary>
/// `viper worker` processes behind a real redis-server, on the tiny models with a shared workspace: 30 mixed jobs come back
/// once each and equal to the in-process studio's; a worker killed mid-job leaves it to another; a payload put on the queue
/// by hand is refused as the API refuses it; cancel works waiting and running; the queue cap holds; jobs queued before
/// Redis restarts (append-only file on) survive it.
/// </summary>
public sealed class RedisWorkerTests(StudioModels models) : IClassFixture<StudioModels>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);
    private readonly RedisServer _redis = new();
    private readonly TempFolder _workspace = new();
    private readonly List<Process> _workers = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _workerOutput = new();

    [Fact]
    public async Task ThreeWorkersRunMixedJobsOnceEachAndAsTheStudioDoes()
    {
        string[] images = ImportImages();
        using ConnectionMultiplexer redis = _redis.Connect();
        var jobs = new RedisJobs(redis.GetDatabase());
        await jobs.EnsureGroupAsync();
        var queued = new List<(string Id, string Kind, string Payload)>();
        for (int i = 0; i < 30; i++)
        {
            (string kind, string payload) = (i % 5) switch
            {
                4 => ("extract", Json(new { items = new[] { new { image = images[i % images.Length], comment = "I love the soft colours." } } })),
                3 => ("score", Json(new { liked = new[] { images[0] }, disliked = new[] { images[1] }, query = new[] { images[i % images.Length], images[2] } })),
                _ => ("generate", Generation(seed: (ulong)(i % 4))),
            };
            queued.Add(((await jobs.EnqueueAsync(kind, payload, 64))!, kind, payload));
        }

        StartWorkers(3);
        JsonObject[] results = await Task.WhenAll(queued.Select(q => ResultOf(jobs, q.Id)));
        for (int i = 0; i < queued.Count; i++)
        {
            Assert.Equal("done", await jobs.StateAsync(queued[i].Id));
            var events = await jobs.EventsAsync(queued[i].Id);
            Assert.Single(events, e => e.Type == "result");
            Assert.Equal("done", events[^1].Data["state"]!.GetValue<string>());
        }

        // The same requests in this process, on the studio's own code path: the same images (named by their content).
        var local = new Dictionary<string, string>();
        for (int i = 0; i < queued.Count; i++)
        {
            string key = queued[i].Kind + queued[i].Payload;
            if (!local.TryGetValue(key, out string? expected))
            {
                local[key] = expected = RunInProcess(queued[i].Kind, queued[i].Payload).ToJsonString();
            }

            Assert.Equal(expected, results[i].ToJsonString());
        }

        Assert.Equal(0, await jobs.WaitingAsync());
        Assert.Equal(3, _workers.Select(w => w.Id).Distinct().Count());
    }

    [Fact]
    public async Task AJobWhoseWorkerIsKilledIsFinishedByAnotherOnce()
    {
        using ConnectionMultiplexer redis = _redis.Connect();
        var jobs = new RedisJobs(redis.GetDatabase());
        await jobs.EnsureGroupAsync();
        string id = (await jobs.EnqueueAsync("generate", Generation(seed: 9, steps: 40), 64))!;
        Process first = StartWorkers(1)[0];
        await Until(async () => (await jobs.EventsAsync(id)).Any(e => e.Type == "progress" && e.Data["stage"]!.GetValue<string>() == "base"));
        first.Kill(); // SIGKILL: no chance to clean up
        first.WaitForExit();
        StartWorkers(1);
        JsonObject result = await ResultOf(jobs, id);
        Assert.NotNull(result["personalized"]);
        var states = (await jobs.EventsAsync(id)).Where(e => e.Type == "state").Select(e => e.Data["state"]!.GetValue<string>()).ToList();
        Assert.Equal(["running", "running", "done"], states); // taken twice, finished once
        Assert.Equal(0, await jobs.WaitingAsync());
    }

    [Fact]
    public async Task SigtermFinishesTheRunningJobAndTakesNoOther()
    {
        using ConnectionMultiplexer redis = _redis.Connect();
        var jobs = new RedisJobs(redis.GetDatabase());
        await jobs.EnsureGroupAsync();
        string running = (await jobs.EnqueueAsync("generate", Generation(seed: 5, steps: 30), 64))!;
        string next = (await jobs.EnqueueAsync("generate", Generation(seed: 6), 64))!;
        Process worker = StartWorkers(1)[0];
        await Until(async () => (await jobs.EventsAsync(running)).Any(e => e.Type == "progress" && e.Data["stage"]!.GetValue<string>() == "base"));
        Process.Start("kill", ["-TERM", worker.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        Assert.True(worker.WaitForExit(TimeSpan.FromMinutes(2)), "the worker did not stop after SIGTERM");
        Assert.Equal(0, worker.ExitCode);
        Assert.NotNull((await jobs.ResultAsync(running))?["personalized"]); // finished, not dropped
        Assert.Equal("queued", await jobs.StateAsync(next)); // and the next one left for another worker
        Assert.Equal(1, await jobs.WaitingAsync());
    }

    [Fact]
    public async Task BadPayloadsCancelsAndTheQueueCap()
    {
        using ConnectionMultiplexer redis = _redis.Connect();
        var jobs = new RedisJobs(redis.GetDatabase());
        await jobs.EnsureGroupAsync();
        string malformed = (await jobs.EnqueueAsync("generate", """{"prompt": 5}""", 64))!;
        string badImage = (await jobs.EnqueueAsync("extract", """{"items": [{"image": "../../etc/passwd", "comment": "x"}]}""", 64))!;
        string unknown = (await jobs.EnqueueAsync("shell", "{}", 64))!;
        string cancelledWaiting = (await jobs.EnqueueAsync("generate", Generation(seed: 1), 64))!;
        Assert.True(await jobs.CancelAsync(cancelledWaiting));
        string running = (await jobs.EnqueueAsync("generate", Generation(seed: 2, steps: 400), 64))!;
        Assert.Null(await jobs.EnqueueAsync("generate", Generation(seed: 3), maxWaiting: 5)); // five wait: the sixth is refused (the API's 429)

        StartWorkers(1);
        Assert.Equal("the payload is not the JSON the request takes", (await ResultOf(jobs, malformed))["error"]!.GetValue<string>());
        Assert.Equal("items[0].image: no image with id '../../etc/passwd'", (await ResultOf(jobs, badImage))["error"]!.GetValue<string>());
        Assert.Equal("'shell' is not a job kind (extract, generate, score)", (await ResultOf(jobs, unknown))["error"]!.GetValue<string>());
        Assert.Equal("cancelled", (await ResultOf(jobs, cancelledWaiting))["state"]!.GetValue<string>());
        await Until(async () => (await jobs.EventsAsync(running)).Any(e => e.Type == "progress"));
        Assert.True(await jobs.CancelAsync(running));
        Assert.Equal("cancelled", (await ResultOf(jobs, running))["state"]!.GetValue<string>());
        Assert.Equal("cancelled", await jobs.StateAsync(running));
        Assert.False(await jobs.CancelAsync("0123456789abcdef")); // no such job
    }

    [Fact]
    public async Task QueuedJobsSurviveARedisRestart()
    {
        string id;
        using (ConnectionMultiplexer redis = _redis.Connect())
        {
            var before = new RedisJobs(redis.GetDatabase());
            await before.EnsureGroupAsync();
            id = (await before.EnqueueAsync("generate", Generation(seed: 4), 64))!;
        }

        _redis.Restart();
        using ConnectionMultiplexer again = _redis.Connect();
        var jobs = new RedisJobs(again.GetDatabase());
        Assert.Equal(1, await jobs.WaitingAsync());
        StartWorkers(1);
        Assert.NotNull((await ResultOf(jobs, id))["personalized"]);
    }

    public void Dispose()
    {
        foreach (Process worker in _workers)
        {
            if (!worker.HasExited)
            {
                worker.Kill();
                worker.WaitForExit();
            }

            worker.Dispose();
        }

        _redis.Dispose();
        _workspace.Dispose();
    }

    private static string Generation(ulong seed, int steps = 2) =>
        Json(new { prompt = "a lighthouse", seed, steps, preference = new { likes = new[] { "watercolor" }, dislikes = new[] { "neon" } } });

    private string[] ImportImages()
    {
        var library = new ImageLibrary(_workspace.Path);
        Assert.Empty(library.Import(Path.Combine(RepoPaths.Root, "tests", "fixtures", "images"), 40_000_000));
        return [.. library.All.Select(i => i.Id)];
    }

    private StudioOptions Options => new()
    {
        Workspace = _workspace.Path,
        Generator = models.Pipelines.Sd,
        Extractor = models.Extractor,
        ExtractorAdapter = Path.Combine(models.Extractor, "adapter"),
        ExtractorOptions = new() { MaxNewTokens = 64, RepetitionPenalty = 0.99f },
        Metric = Idefics2Refs.Folder,
        MetricAdapter = Path.Combine(Idefics2Refs.Folder, "lora_adapter"),
        Backend = _ => new Viper.Backends.Cpu.CpuBackend(threads: 1), // as the workers' --threads 1: OpenBLAS rounds by its thread count
    };

    private List<Process> StartWorkers(int count)
    {
        var started = new List<Process>();
        for (int i = 0; i < count; i++)
        {
            Process worker = CliRunner.Start(_workspace.Path, "worker", "--redis", _redis.Url, "--workspace", _workspace.Path, "--model", models.Pipelines.Sd,
                "--extractor", models.Extractor, "--adapter", Path.Combine(models.Extractor, "adapter"), "--extractor-max-new-tokens", "64",
                "--metric", Idefics2Refs.Folder, "--metric-adapter", Path.Combine(Idefics2Refs.Folder, "lora_adapter"),
                "--visibility-timeout", "3", "--name", $"w{_workers.Count}", "--threads", "1");
            worker.OutputDataReceived += (_, e) => _workerOutput.Enqueue(e.Data ?? "");
            worker.ErrorDataReceived += (_, e) => _workerOutput.Enqueue(e.Data ?? "");
            worker.BeginOutputReadLine();
            worker.BeginErrorReadLine();
            _workers.Add(worker);
            started.Add(worker);
        }

        return started;
    }

    // The studio's code path for one request, in this process (its own models, the same workspace).
    private JsonObject RunInProcess(string kind, string payload)
    {
        StudioOptions options = Options;
        using var models = new ModelSlots(options);
        var library = new ImageLibrary(options.Workspace);
        var requests = new JobRequests(options, library, models, new PreferenceStore(options), new StudioGeometry(options), new LoraLibrary(options));
        var json = new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web);
        Action<Job, CancellationToken> work = kind switch
        {
            "extract" => requests.Extraction(System.Text.Json.JsonSerializer.Deserialize<Viper.Studio.Api.ExtractRequest>(payload, json)!).Work,
            "score" => requests.Scoring(System.Text.Json.JsonSerializer.Deserialize<Viper.Studio.Api.ScoreRequest>(payload, json)!).Work,
            _ => requests.Generation(System.Text.Json.JsonSerializer.Deserialize<Viper.Studio.Api.GenerateRequest>(payload, json)!).Work,
        };
        var job = new Job("local", kind, work);
        JobExecution.Run(job, CancellationToken.None, NullLogger.Instance, new ClientText(options));
        Assert.Equal(JobState.Done, job.State);
        return job.Result!;
    }

    private async Task<JsonObject> ResultOf(RedisJobs jobs, string id)
    {
        JsonObject? result = null;
        await Until(async () => (result = await jobs.ResultAsync(id)) is not null);
        return result!;
    }

    private async Task Until(Func<Task<bool>> done)
    {
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < Patience; await Task.Delay(100))
        {
            if (await done())
            {
                return;
            }

            Assert.True(_workers.Count == 0 || _workers.Any(w => !w.HasExited), $"every worker has exited:\n{string.Join('\n', _workerOutput)}");
        }

        throw new TimeoutException($"not done in {Patience}");
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;

namespace Viper.Engine.Tests.Distributed;

/// <summary>
/// `viper serve` front ends over a real redis-server with a `viper worker` behind them: a page following a job through a
/// front end that dies picks the stream up from another front end where it left off (Last-Event-ID), the queue cap
/// answers 429, a running job is cancelled through the API, and bad requests are refused before anything is queued.
/// </summary>
public sealed class ServeTests(StudioModels models) : IClassFixture<StudioModels>, IDisposable
{
    private readonly RedisServer _redis = new();
    private readonly TempFolder _work = new();
    private readonly List<IDisposable> _processes = [];

    [Fact]
    public async Task APageResumesOnAnotherFrontEndAfterItsFrontEndDies()
    {
        StartWorker();
        RunningStudio first = await FrontEnd();
        var client = new StudioClient(new HttpClient { BaseAddress = first.Address });
        string id = await Submit(client, steps: 30);

        // Follow the job through the first front end until a few steps are in, then kill that front end.
        using HttpResponseMessage stream = await client.Http.GetAsync($"/api/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        var seen = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            seen.Append(line).Append('\n');
            if (line.Length == 0 && seen.ToString().Contains("\"step\":3,", StringComparison.Ordinal))
            {
                break;
            }
        }

        first.Process.Kill();
        var before = StudioClient.ParseEvents(seen.ToString());
        RunningStudio second = await FrontEnd();
        var other = new StudioClient(new HttpClient { BaseAddress = second.Address });
        var after = await other.EventsWithIds(id, lastEventId: before[^1].Id);
        Assert.Equal("done", after[^1].Data["state"]!.GetValue<string>());
        var whole = await other.EventsWithIds(id);
        Assert.Equal(whole.Select(e => e.Id), before.Concat(after).Select(e => e.Id)); // nothing lost, nothing twice
        (HttpStatusCode status, JsonNode? snapshot) = await other.Send(HttpMethod.Get, $"/api/jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("done", snapshot!["state"]!.GetValue<string>());
        Assert.NotNull(snapshot["result"]!["personalized"]);
    }

    [Fact]
    public async Task TheCapAnswers429ARunningJobIsCancelledAndBadRequestsAreRefused()
    {
        RunningStudio frontEnd = await FrontEnd("--max-queue", "1");
        var client = new StudioClient(new HttpClient { BaseAddress = frontEnd.Address });
        string id = await Submit(client, steps: 400);
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Post, "/api/generate", Request(2));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("at most 1", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        (status, body) = await client.Send(HttpMethod.Post, "/api/generate", """{"prompt": 5}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await client.Send(HttpMethod.Get, "/api/jobs/../../etc");
        Assert.Equal(HttpStatusCode.NotFound, status);

        StartWorker();
        await Until(async () => (await client.Send(HttpMethod.Get, $"/api/jobs/{id}")).Body!["state"]!.GetValue<string>() == "running");
        (status, _) = await client.Send(HttpMethod.Post, $"/api/jobs/{id}/cancel");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var stream = await client.EventsWithIds(id);
        Assert.Equal("cancelled", stream[^1].Data["state"]!.GetValue<string>());
        Assert.DoesNotContain(stream, e => e.Type == "result");
    }

    public void Dispose()
    {
        _processes.ForEach(p => p.Dispose());
        _redis.Dispose();
        _work.Dispose();
    }

    private static string Request(ulong seed, int steps = 2) =>
        StudioClient.Json(new { prompt = "a lighthouse", seed, steps, preference = new { likes = new[] { "watercolor" }, dislikes = new[] { "neon" } } });

    private static async Task<string> Submit(StudioClient client, int steps)
    {
        (HttpStatusCode status, JsonNode? job) = await client.Send(HttpMethod.Post, "/api/generate", Request(7, steps));
        Assert.True(status == HttpStatusCode.Accepted, job?.ToJsonString());
        return job!["id"]!.GetValue<string>();
    }

    private async Task<RunningStudio> FrontEnd(params string[] extra)
    {
        RunningStudio frontEnd = await RunningStudio.Launch("serve", _work.Path, ["--redis", _redis.Url, "--model", models.Pipelines.Sd, .. extra]);
        _processes.Add(frontEnd);
        return frontEnd;
    }

    private void StartWorker()
    {
        var worker = CliRunner.Start(_work.Path, "worker", "--redis", _redis.Url, "--workspace", Path.Combine(_work.Path, "ws"), "--model", models.Pipelines.Sd,
            "--visibility-timeout", "30", "--threads", "1");
        worker.OutputDataReceived += (_, _) => { };
        worker.ErrorDataReceived += (_, _) => { };
        worker.BeginOutputReadLine();
        worker.BeginErrorReadLine();
        _processes.Add(new KilledOnDispose(worker));
    }

    private static async Task Until(Func<Task<bool>> done)
    {
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromMinutes(2); await Task.Delay(100))
        {
            if (await done())
            {
                return;
            }
        }

        throw new TimeoutException("not done in 2 minutes");
    }

    private sealed class KilledOnDispose(System.Diagnostics.Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit();
            }

            process.Dispose();
        }
    }
}

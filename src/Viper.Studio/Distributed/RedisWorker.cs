using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Viper.Studio.Api;
using Viper.Studio.Jobs;
using Viper.Studio.Work;

namespace Viper.Studio.Distributed;

/// <summary>
/// `viper worker`: takes jobs (extract, generate, score) off the Redis queue one at a time and runs them on this process's models, which stay
/// resident between jobs (<see cref="ModelSlots"/>). Each job's events go to its Redis stream as they happen; its result
/// is stored, then its entry acknowledged. A payload is checked as the studio API checks a request (<see cref="JobRequests"/>)
/// and refused with the API's message. While a job runs its entry is kept fresh, so no other worker claims it, and its
/// cancel flag is polled; a cancelled job stops at its next step. Stopping (SIGTERM, Ctrl+C) takes no new job and lets
/// the running one finish.
/// </summary>
public sealed class RedisWorker(RedisJobs jobs, JobRequests requests, ClientText clientText, ILogger log, string consumer, TimeSpan visibility)
{
    /// <summary>How often an idle worker looks for a job (StackExchange.Redis multiplexes one connection, so it polls rather than blocks).</summary>
    public static TimeSpan PollInterval { get; } = TimeSpan.FromMilliseconds(50);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task RunAsync(CancellationToken stopping)
    {
        await jobs.EnsureGroupAsync();
        while (!stopping.IsCancellationRequested)
        {
            QueuedJob? queued = await jobs.ClaimAsync(consumer, visibility);
            if (queued is null)
            {
                // Never resumed inline by the stop signal's own callback (System.CommandLine's SIGTERM handler then fails).
                await Task.Delay(PollInterval, stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
                continue;
            }

            await RunOneAsync(queued); // not cancelled by stopping: a graceful stop finishes the job it has
        }
    }

    private async Task RunOneAsync(QueuedJob queued)
    {
        if (await jobs.HasResultAsync(queued.Id))
        {
            await jobs.CompleteAsync(queued, "done", []); // a worker stored it and died before acknowledging: nothing to run
            return;
        }

        if (await jobs.IsCancelledAsync(queued.Id))
        {
            await jobs.PostEventAsync(queued.Id, "state", new JsonObject { ["state"] = "cancelled" });
            await jobs.CompleteAsync(queued, "cancelled", new JsonObject { ["state"] = "cancelled" });
            return;
        }

        Action<Job, CancellationToken> work;
        try
        {
            work = Work(queued);
        }
        catch (Exception e) when (e is ApiException or JsonException or ArgumentException)
        {
            log.LogWarning("job {Id} refused: {Message}", queued.Id, e.Message);
            string message = clientText.Redact(e is JsonException ? "the payload is not the JSON the request takes" : e.Message);
            await jobs.PostEventAsync(queued.Id, "error", new JsonObject { ["message"] = message });
            await jobs.PostEventAsync(queued.Id, "state", new JsonObject { ["state"] = "failed" });
            await jobs.CompleteAsync(queued, "failed", new JsonObject { ["state"] = "failed", ["error"] = message });
            return;
        }

        var job = new Job(queued.Id, queued.Kind, work);
        await jobs.MarkRunningAsync(queued, consumer);
        using var finished = new CancellationTokenSource();
        Task forward = ForwardAsync(job);
        Task watch = WatchAsync(queued, job, finished.Token);
        await Task.Factory.StartNew(() => JobExecution.Run(job, CancellationToken.None, log, clientText), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await forward;
        await finished.CancelAsync();
        await watch;
        JsonObject result = job.State switch
        {
            JobState.Done => (JsonObject)(job.Result?.DeepClone() ?? new JsonObject()),
            JobState.Failed => new JsonObject { ["state"] = "failed", ["error"] = job.Error },
            _ => new JsonObject { ["state"] = "cancelled" },
        };
        await jobs.CompleteAsync(queued, Job.Name(job.State), result);
    }

    // The kind's request, checked as the studio API checks it.
    private Action<Job, CancellationToken> Work(QueuedJob queued) => queued.Kind switch
    {
        "extract" => requests.Extraction(Parse<ExtractRequest>(queued.Payload)).Work,
        "generate" => requests.Generation(Parse<GenerateRequest>(queued.Payload)).Work,
        "score" => requests.Scoring(Parse<ScoreRequest>(queued.Payload)).Work,
        _ => throw new ArgumentException($"'{queued.Kind}' is not a job kind (extract, generate, score)"),
    };

    private static T Parse<T>(string payload)
        where T : class =>
        JsonSerializer.Deserialize<T>(payload, Json) ?? throw ApiException.BadRequest("the payload is empty; send a JSON object");

    // Every event the job posts, in order, onto its Redis stream.
    private async Task ForwardAsync(Job job)
    {
        await foreach (JobEvent e in job.Follow(CancellationToken.None))
        {
            await jobs.PostEventAsync(job.Id, e.Type, e.Data);
        }
    }

    // Until the job ends: keeps its entry claimed (a third of the visibility timeout apart) and honours a cancel.
    private async Task WatchAsync(QueuedJob queued, Job job, CancellationToken finished)
    {
        DateTime nextBeat = DateTime.UtcNow;
        while (!finished.IsCancellationRequested)
        {
            if (DateTime.UtcNow >= nextBeat)
            {
                await jobs.HeartbeatAsync(queued, consumer);
                nextBeat = DateTime.UtcNow + (visibility / 3);
            }

            if (await jobs.IsCancelledAsync(queued.Id))
            {
                job.Cancel();
            }

            await Task.Delay(PollInterval, finished).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}

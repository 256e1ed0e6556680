using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Studio.Api;
using Viper.Studio.Jobs;
using Viper.Studio.Work;

namespace Viper.Studio.Distributed;

/// <summary>
/// `viper serve`: the studio's API with its jobs on Redis for `viper worker` processes to run. A request is checked here
/// exactly as the studio checks it (the workspace folder, which front ends and workers share, holds the images it names),
/// then queued as its JSON; snapshots and events are read back from Redis, so any front end — or one restarted — serves
/// any job, and a page reconnecting with Last-Event-ID resumes after the last event it got. At most
/// <paramref name="maxQueued"/> jobs wait or run; one more is refused (429).
/// </summary>
public sealed class RedisJobService(RedisJobs jobs, JobRequests requests, int maxQueued) : IJobService
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<JsonObject> SubmitExtractionAsync(ExtractRequest body)
    {
        _ = requests.Extraction(body); // refused here as the studio refuses it; the worker checks it again
        return SubmitAsync("extract", JsonSerializer.Serialize(body, Json));
    }

    public Task<JsonObject> SubmitGenerationAsync(GenerateRequest body)
    {
        _ = requests.Generation(body);
        return SubmitAsync("generate", JsonSerializer.Serialize(body, Json));
    }

    public Task<JsonObject> SubmitScoringAsync(ScoreRequest body)
    {
        _ = requests.Scoring(body);
        return SubmitAsync("score", JsonSerializer.Serialize(body, Json));
    }

    public async Task<JsonObject?> SnapshotAsync(string id)
    {
        if (!IsJobId(id) || await jobs.StateAsync(id) is not { } state)
        {
            return null;
        }

        JsonObject? result = state is "done" or "failed" or "cancelled" ? await jobs.ResultAsync(id) : null;
        return new JsonObject
        {
            ["id"] = id, ["kind"] = await jobs.KindAsync(id), ["state"] = state, ["position"] = state == "queued" ? await jobs.PositionAsync(id) : 0,
            ["result"] = state == "done" ? result : null, ["error"] = state == "failed" ? result?["error"]?.DeepClone() : null,
        };
    }

    public async IAsyncEnumerable<JobStreamEvent> FollowAsync(string id, string? after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!IsJobId(id))
        {
            yield break;
        }

        string last = after ?? "0-0";
        while (true)
        {
            bool ended = false;
            foreach ((string entry, string type, JsonObject data) in await jobs.EventsAsync(id, last))
            {
                last = entry;
                ended |= type == "state" && data["state"]?.GetValue<string>() is "done" or "failed" or "cancelled";
                yield return new JobStreamEvent(entry, type, data);
            }

            if (ended || await jobs.StateAsync(id) is null)
            {
                yield break;
            }

            await Task.Delay(RedisWorker.PollInterval, cancellationToken);
        }
    }

    public async Task<JsonObject?> CancelAsync(string id) => IsJobId(id) && await jobs.CancelAsync(id) ? await SnapshotAsync(id) : null;

    public Task<long> WaitingAsync() => jobs.WaitingAsync();

    private async Task<JsonObject> SubmitAsync(string kind, string payload)
    {
        string id = await jobs.EnqueueAsync(kind, payload, maxQueued)
            ?? throw new JobQueue.QueueFullException($"{maxQueued} jobs are already queued or running (at most {maxQueued}); try again when some have finished");
        return await SnapshotAsync(id) ?? throw new InvalidOperationException($"job {id} vanished as it was queued");
    }

    // Job ids are 16 hex digits: anything else names no job (and never reaches a Redis key).
    private static bool IsJobId(string id) => id.Length == 16 && id.All(char.IsAsciiHexDigitLower);
}

using System.Text.Json.Nodes;
using Viper.Studio.Api;

namespace Viper.Studio.Jobs;

/// <summary>One event of a job with its id in the job's stream: what a client that reconnects resumes after (Last-Event-ID).</summary>
public sealed record JobStreamEvent(string Id, string Type, JsonObject Data);

/// <summary>
/// Where the API's jobs run: in this process (<see cref="LocalJobService"/>, `viper studio`) or on workers behind Redis
/// (<see cref="Distributed.RedisJobService"/>, `viper serve`). Either way a request is checked the same way before it is
/// queued, and a job is seen as a snapshot (id, kind, state, position, result, error) and a stream of events.
/// </summary>
public interface IJobService
{
    /// <summary>Checks and queues an extraction; <see cref="JobQueue.QueueFullException"/> when the queue is full.</summary>
    Task<JsonObject> SubmitExtractionAsync(ExtractRequest body);

    /// <summary>Checks and queues a generation; <see cref="JobQueue.QueueFullException"/> when the queue is full.</summary>
    Task<JsonObject> SubmitGenerationAsync(GenerateRequest body);

    /// <summary>Checks and queues a scoring; <see cref="JobQueue.QueueFullException"/> when the queue is full.</summary>
    Task<JsonObject> SubmitScoringAsync(ScoreRequest body);

    /// <summary>The job's snapshot, or null when there is no such job (or it has expired).</summary>
    Task<JsonObject?> SnapshotAsync(string id);

    /// <summary>The job's events after the one with id <paramref name="after"/> (all when null), then each new one, until it ends.</summary>
    IAsyncEnumerable<JobStreamEvent> FollowAsync(string id, string? after, CancellationToken cancellationToken);

    /// <summary>Asks the job to stop; its snapshot, or null when there is no such job.</summary>
    Task<JsonObject?> CancelAsync(string id);

    /// <summary>Jobs waiting (and, behind Redis, running).</summary>
    Task<long> WaitingAsync();
}

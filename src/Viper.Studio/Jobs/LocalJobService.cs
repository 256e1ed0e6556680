using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Viper.Studio.Api;
using Viper.Studio.Work;

namespace Viper.Studio.Jobs;

/// <summary>Jobs run by this process's <see cref="JobQueue"/> (one worker per device); event ids are their index in the job's history.</summary>
public sealed class LocalJobService(JobQueue queue, JobRequests requests) : IJobService
{
    public Task<JsonObject> SubmitExtractionAsync(ExtractRequest body)
    {
        (Runtime.DeviceName device, Action<Job, CancellationToken> work) = requests.Extraction(body);
        return Task.FromResult(Snapshot(queue.Enqueue("extract", device, work)));
    }

    public Task<JsonObject> SubmitGenerationAsync(GenerateRequest body)
    {
        (Runtime.DeviceName device, Action<Job, CancellationToken> work) = requests.Generation(body);
        return Task.FromResult(Snapshot(queue.Enqueue("generate", device, work)));
    }

    public Task<JsonObject> SubmitScoringAsync(ScoreRequest body)
    {
        (Runtime.DeviceName device, Action<Job, CancellationToken> work) = requests.Scoring(body);
        return Task.FromResult(Snapshot(queue.Enqueue("score", device, work)));
    }

    public Task<JsonObject?> SnapshotAsync(string id) => Task.FromResult(queue.Find(id) is { } job ? Snapshot(job) : null);

    public async IAsyncEnumerable<JobStreamEvent> FollowAsync(string id, string? after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (queue.Find(id) is not { } job)
        {
            yield break;
        }

        int index = int.TryParse(after, out int seen) ? seen + 1 : 0;
        await foreach (JobEvent e in job.Follow(cancellationToken, skip: index))
        {
            yield return new JobStreamEvent((index++).ToString(System.Globalization.CultureInfo.InvariantCulture), e.Type, e.Data);
        }
    }

    public Task<JsonObject?> CancelAsync(string id)
    {
        if (queue.Find(id) is not { } job)
        {
            return Task.FromResult<JsonObject?>(null);
        }

        queue.Cancel(job);
        return Task.FromResult<JsonObject?>(Snapshot(job));
    }

    public Task<long> WaitingAsync() => Task.FromResult((long)queue.Waiting);

    private static JsonObject Snapshot(Job job) => new()
    {
        ["id"] = job.Id, ["kind"] = job.Kind, ["state"] = Job.Name(job.State), ["position"] = job.Position,
        ["result"] = job.Result?.DeepClone(), ["error"] = job.Error,
    };
}

using System.Security.Cryptography;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace Viper.Studio.Distributed;

/// <summary>What a queued job is: its kind (extract, generate) and the studio API's JSON body for it.</summary>
public sealed record QueuedJob(string Id, string Kind, string Payload, string EntryId);

/// <summary>
/// Jobs in Redis, for `viper worker` processes on any number of machines (the Celery/RQ pattern on Redis Streams).
/// <list type="bullet">
/// <item><c>{prefix}:jobs</c>, a stream with the consumer group <c>workers</c>: one entry per job (its id), read by one worker
/// at a time; an entry stays pending until the worker that took it has stored the result, then is acknowledged and
/// deleted, so the stream's length is the jobs waiting or running (the queue cap).</item>
/// <item><c>{prefix}:job:{id}</c>, a hash: kind, payload, state (queued, running, done, failed, cancelled), the worker,
/// and <c>cancel</c> once asked.</item>
/// <item><c>{prefix}:job:{id}:events</c>, a stream of the job's events (type, data JSON) from the first: a client reading
/// it from any entry id resumes where it was, whichever front end it talks to.</item>
/// <item><c>{prefix}:job:{id}:result</c>, the result JSON, written once (SET NX): a job run twice — its worker died after
/// finishing, and another took it — still has one result, the first.</item>
/// </list>
/// A worker that dies leaves its entry pending; once idle longer than the visibility timeout another worker claims it
/// (XAUTOCLAIM) and runs it again. A running worker keeps its entry fresh (XCLAIM to itself) so a long job is not
/// claimed away. Finished jobs' keys expire after <see cref="ResultTtl"/>.
/// </summary>
public sealed class RedisJobs(IDatabase db, string prefix = "viper")
{
    public const string Group = "workers";

    public static TimeSpan ResultTtl { get; } = TimeSpan.FromHours(24);

    public RedisKey Stream => $"{prefix}:jobs";

    private RedisKey JobKey(string id) => $"{prefix}:job:{id}";

    private RedisKey EventsKey(string id) => $"{prefix}:job:{id}:events";

    private RedisKey ResultKey(string id) => $"{prefix}:job:{id}:result";

    /// <summary>Creates the stream and its consumer group when missing (every worker and front end may call it).</summary>
    public async Task EnsureGroupAsync()
    {
        try
        {
            await db.StreamCreateConsumerGroupAsync(Stream, Group, StreamPosition.Beginning, createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
            // made by another process already
        }
    }

    /// <summary>
    /// Queues a job unless <paramref name="maxWaiting"/> jobs already wait or run (then null: the API answers 429). The
    /// check and the append are one script, so front ends racing each other cannot overfill the queue.
    /// </summary>
    public async Task<string?> EnqueueAsync(string kind, string payload, int maxWaiting)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        const string Script = """
            local ahead = redis.call('XLEN', KEYS[1])
            if ahead >= tonumber(ARGV[1]) then return 0 end
            redis.call('HSET', KEYS[2], 'kind', ARGV[3], 'payload', ARGV[4], 'state', 'queued')
            redis.call('XADD', KEYS[3], '*', 'type', 'queued', 'data', '{"position":' .. ahead .. '}')
            redis.call('XADD', KEYS[1], '*', 'id', ARGV[2])
            return 1
            """;
        RedisResult added = await db.ScriptEvaluateAsync(Script, [Stream, JobKey(id), EventsKey(id)], [maxWaiting, id, kind, payload]);
        return (int)added == 1 ? id : null;
    }

    /// <summary>Jobs waiting or running (the stream's length).</summary>
    public async Task<long> WaitingAsync() => await db.StreamLengthAsync(Stream);

    /// <summary>
    /// The next job for <paramref name="consumer"/>: first one another worker took and left idle past
    /// <paramref name="visibility"/> (it died), else a new one; null when there is none.
    /// </summary>
    public async Task<QueuedJob?> ClaimAsync(string consumer, TimeSpan visibility)
    {
        StreamAutoClaimResult stale = await db.StreamAutoClaimAsync(Stream, Group, consumer, (long)visibility.TotalMilliseconds, "0-0", count: 1);
        StreamEntry[] taken = [.. stale.ClaimedEntries.Where(e => !e.Id.IsNull)];
        if (taken.Length == 0)
        {
            taken = [.. (await db.StreamReadGroupAsync(Stream, Group, consumer, StreamPosition.NewMessages, count: 1)).Where(e => !e.Id.IsNull)];
        }

        if (taken.Length == 0)
        {
            return null;
        }

        StreamEntry entry = taken[0];

        string id = entry["id"].ToString();
        HashEntry[] fields = await db.HashGetAllAsync(JobKey(id));
        string? kind = fields.FirstOrDefault(f => f.Name == "kind").Value, payload = fields.FirstOrDefault(f => f.Name == "payload").Value;
        return new QueuedJob(id, kind ?? "", payload ?? "", entry.Id.ToString());
    }

    /// <summary>Keeps a running job's entry from being claimed by another worker (resets its idle time).</summary>
    public Task HeartbeatAsync(QueuedJob job, string consumer) =>
        db.StreamClaimIdsOnlyAsync(Stream, Group, consumer, 0, [job.EntryId]);

    public Task MarkRunningAsync(QueuedJob job, string consumer) =>
        db.HashSetAsync(JobKey(job.Id), [new HashEntry("state", "running"), new HashEntry("worker", consumer)]);

    public Task PostEventAsync(string id, string type, JsonObject data) =>
        db.StreamAddAsync(EventsKey(id), [new NameValueEntry("type", type), new NameValueEntry("data", data.ToJsonString())]);

    /// <summary>
    /// Stores the job's end — its state and (first time only) its result — then acknowledges and deletes its entry. False
    /// when another run had already stored one (this run's result is dropped: the client saw the first).
    /// </summary>
    public async Task<bool> CompleteAsync(QueuedJob job, string state, JsonObject result)
    {
        // The result and the state together, in one script: a reader that sees the result sees the end state too.
        const string Script = """
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then
              redis.call('HSET', KEYS[2], 'state', ARGV[2])
              return 1
            end
            return 0
            """;
        bool first = (int)await db.ScriptEvaluateAsync(Script, [ResultKey(job.Id), JobKey(job.Id)], [result.ToJsonString(), state, (long)ResultTtl.TotalSeconds]) == 1;

        await db.StreamAcknowledgeAsync(Stream, Group, job.EntryId);
        await db.StreamDeleteAsync(Stream, [job.EntryId]);
        await db.KeyExpireAsync(JobKey(job.Id), ResultTtl);
        await db.KeyExpireAsync(EventsKey(job.Id), ResultTtl);
        return first;
    }

    /// <summary>Whether a result is stored already (a job a dead worker finished is not run again).</summary>
    public Task<bool> HasResultAsync(string id) => db.KeyExistsAsync(ResultKey(id));

    public async Task<JsonObject?> ResultAsync(string id) =>
        await db.StringGetAsync(ResultKey(id)) is { IsNull: false } json ? JsonNode.Parse(json.ToString())!.AsObject() : null;

    public async Task<string?> StateAsync(string id) => (string?)await db.HashGetAsync(JobKey(id), "state");

    public async Task<string?> KindAsync(string id) => (string?)await db.HashGetAsync(JobKey(id), "kind");

    /// <summary>Jobs ahead of this one in the stream (running ones included); 0 when it runs or has left the stream.</summary>
    public async Task<long> PositionAsync(string id)
    {
        StreamEntry[] entries = await db.StreamRangeAsync(Stream);
        int at = Array.FindIndex(entries, e => e["id"] == id);
        return Math.Max(0, at);
    }

    /// <summary>Asks a job to stop: a waiting one ends when a worker takes it, a running one at its next step.</summary>
    public async Task<bool> CancelAsync(string id)
    {
        if (!await db.KeyExistsAsync(JobKey(id)))
        {
            return false;
        }

        await db.HashSetAsync(JobKey(id), "cancel", "1");
        return true;
    }

    public async Task<bool> IsCancelledAsync(string id) => await db.HashExistsAsync(JobKey(id), "cancel");

    /// <summary>The job's events after <paramref name="after"/> ("0-0" for all), with their entry ids to resume from.</summary>
    public async Task<IReadOnlyList<(string EntryId, string Type, JsonObject Data)>> EventsAsync(string id, string after = "0-0")
    {
        StreamEntry[] entries = await db.StreamRangeAsync(EventsKey(id), after == "0-0" ? "-" : $"({after}", "+");
        return [.. entries.Select(e => (e.Id.ToString(), e["type"].ToString(), JsonNode.Parse(e["data"].ToString())!.AsObject()))];
    }
}

using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace Viper.Studio.Jobs;

public enum JobState
{
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

/// <summary>One event of a job, sent to the page as a server-sent event of type <paramref name="Type"/>.</summary>
public sealed record JobEvent(string Type, JsonObject Data);

/// <summary>
/// A queued piece of work (an extraction or a generation) and everything it has reported, so that a page that connects
/// late — or twice — sees the whole stream from the start.
/// </summary>
public sealed class Job(string id, string kind, Action<Job, CancellationToken> work)
{
    private readonly List<JobEvent> _events = [];
    private readonly Dictionary<string, (int Index, JsonObject Summary)> _superseded = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _cancel = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;

    public string Kind { get; } = kind;

    /// <summary>The device whose worker runs the job (where the model it starts with is placed).</summary>
    public Runtime.DeviceName Device { get; init; }

    public JobState State { get; private set; } = JobState.Queued;

    public bool IsFinished => State is JobState.Done or JobState.Failed or JobState.Cancelled;

    /// <summary>Jobs ahead of this one, the running one included (0: this one runs next, runs, or has finished).</summary>
    public int Position { get; private set; }

    /// <summary>The last "result" event's data, once done.</summary>
    public JsonObject? Result { get; private set; }

    /// <summary>The message of the "error" event, once failed.</summary>
    public string? Error { get; private set; }

    internal CancellationToken CancellationToken => _cancel.Token;

    internal Action<Job, CancellationToken> Work { get; } = work;

    /// <summary>
    /// Reports an event whose payload only matters until the next one of its type (a step's preview image): when the next
    /// arrives, this one stays in the history as <paramref name="summary"/> (its step, without the picture), so a long
    /// generation does not hold every preview it sent. Followers reading live get every payload.
    /// </summary>
    public void PostSuperseded(string type, JsonObject data, JsonObject summary)
    {
        TaskCompletionSource changed;
        lock (_events)
        {
            if (_superseded.TryGetValue(type, out (int Index, JsonObject Summary) previous))
            {
                _events[previous.Index] = new JobEvent(type, previous.Summary);
            }

            _superseded[type] = (_events.Count, summary);
            _events.Add(new JobEvent(type, data));
            (changed, _changed) = (_changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        changed.TrySetResult();
    }

    public void Post(string type, JsonObject data) => Post(type, data, null);

    internal void Enter(JobState state)
    {
        if (state != JobState.Queued)
        {
            Position = 0; // nothing is ahead of a job that runs or has ended
        }

        Post("state", new JsonObject { ["state"] = Name(state) }, state);
    }

    // The state changes under the same lock as the event that announces it, so a follower that sees a finished job has
    // also got its last event.
    private void Post(string type, JsonObject data, JobState? state)
    {
        TaskCompletionSource changed;
        lock (_events)
        {
            State = state ?? State;
            _events.Add(new JobEvent(type, data));
            switch (type)
            {
                case "result":
                    Result = data;
                    break;
                case "error":
                    Error = data["message"]?.GetValue<string>();
                    break;
            }

            (changed, _changed) = (_changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        changed.TrySetResult();
    }

    /// <summary>Asks the job's work to stop (<see cref="JobQueue.Cancel"/> also ends a job that has not started).</summary>
    internal void Cancel() => _cancel.Cancel();

    internal void MoveTo(int position, bool announce = false)
    {
        if (State == JobState.Queued && (announce || position != Position))
        {
            Position = position;
            Post("queued", new JsonObject { ["position"] = position });
        }
    }

    public static string Name(JobState state) => state.ToString().ToLowerInvariant();

    /// <summary>Every event from the first (or after the first <paramref name="skip"/>), then each new one as it is posted, until the job has finished.</summary>
    public async IAsyncEnumerable<JobEvent> Follow([EnumeratorCancellation] CancellationToken cancellationToken, int skip = 0)
    {
        int next = skip;
        while (true)
        {
            JobEvent[] fresh;
            Task changed;
            bool finished;
            lock (_events)
            {
                finished = IsFinished;
                fresh = [.. _events.Skip(next)];
                next = _events.Count;
                changed = _changed.Task;
            }

            foreach (JobEvent e in fresh)
            {
                yield return e;
            }

            if (finished)
            {
                yield break;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }
}

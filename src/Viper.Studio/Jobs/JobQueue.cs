using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Viper.Studio.Jobs;

/// <summary>
/// Runs jobs in the order they came, one worker per device the models are placed on (<see cref="StudioOptions.Devices"/>):
/// jobs for one device run one at a time, jobs for different devices side by side (a generation's scoring may then wait
/// for the metric's device, see <see cref="Work.ModelSlots"/>). Each job learns its place in its device's queue as it changes; an error ends the job with its message, never a stack trace
/// (that goes to the server's log). At most <see cref="MaxWaiting"/> jobs wait (<see cref="QueueFullException"/>
/// beyond). When the server begins to stop, every job is cancelled at once — the running one at its next step — so a
/// page still following a job's events does not keep the process alive until the job would have finished.
/// </summary>
public sealed class JobQueue : BackgroundService
{
    /// <summary>Jobs that may wait behind the running one; one more is refused rather than queued for hours.</summary>
    public const int MaxWaiting = 32;

    private readonly ILogger<JobQueue> _log;

    private readonly ClientText _clientText;

    public JobQueue(ILogger<JobQueue> log, IHostApplicationLifetime lifetime, ClientText clientText, StudioOptions options)
    {
        _log = log;
        _clientText = clientText;
        _pending = options.Devices.ToDictionary(d => d, _ => Channel.CreateUnbounded<Job>());
        lifetime.ApplicationStopping.Register(CancelAll);
    }

    private readonly Dictionary<Runtime.DeviceName, Channel<Job>> _pending;
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly Queue<Job> _order = new(); // every job kept, oldest first (under the _waiting lock)
    private readonly List<Job> _waiting = [];
    private readonly Dictionary<Runtime.DeviceName, Job> _running = [];

    public Job? Find(string id) => _jobs.GetValueOrDefault(id);

    public int Waiting
    {
        get
        {
            lock (_waiting)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Finished jobs kept for late readers; older ones are forgotten (their images stay in the library).</summary>
    public const int KeptFinished = 100;

    /// <summary>Queues work for the worker of <paramref name="device"/> (where the model the job starts with is placed).</summary>
    public Job Enqueue(string kind, Runtime.DeviceName device, Action<Job, CancellationToken> work)
    {
        Channel<Job> pending = _pending.TryGetValue(device, out Channel<Job>? c) ? c : throw new ArgumentException($"no worker runs jobs on {device}", nameof(device));
        var job = new Job(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), kind, work) { Device = device };
        lock (_waiting)
        {
            if (_waiting.Count >= MaxWaiting)
            {
                throw new QueueFullException($"{_waiting.Count} jobs are already waiting (at most {MaxWaiting}); try again when some have finished");
            }

            _jobs[job.Id] = job;
            _order.Enqueue(job);
            while (_order.Count > KeptFinished && _order.Peek().IsFinished)
            {
                _jobs.TryRemove(_order.Dequeue().Id, out _);
            }

            _waiting.Add(job);
            job.MoveTo(PlaceOf(job), announce: true);
        }

        pending.Writer.TryWrite(job);
        return job;
    }

    /// <summary>Cancels a job: one still waiting ends now (and those behind it move up); a running one stops at its next step.</summary>
    public void Cancel(Job job)
    {
        job.Cancel();
        lock (_waiting)
        {
            if (_waiting.Remove(job))
            {
                job.Enter(JobState.Cancelled);
                Renumber();
            }
        }
    }

    private void CancelAll()
    {
        Job[] waiting;
        lock (_waiting)
        {
            waiting = [.. _waiting];
            foreach (Job running in _running.Values)
            {
                running.Cancel();
            }
        }

        foreach (Job job in waiting)
        {
            Cancel(job);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_pending.Select(p => Work(p.Key, p.Value.Reader, stoppingToken)));

    // One device's worker.
    private async Task Work(Runtime.DeviceName device, ChannelReader<Job> pending, CancellationToken stoppingToken)
    {
        await foreach (Job job in pending.ReadAllAsync(stoppingToken))
        {
            lock (_waiting)
            {
                if (!_waiting.Remove(job))
                {
                    continue; // cancelled while it waited
                }

                _running[device] = job;
                Renumber();
            }

            // The work is synchronous and long (a whole generation): it runs off the request threads.
            await Task.Factory.StartNew(() => Run(job, stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            lock (_waiting)
            {
                _running.Remove(device);
            }
        }
    }

    /// <summary>Enqueue's refusal when <see cref="MaxWaiting"/> jobs wait: the API answers 429.</summary>
    public sealed class QueueFullException(string message) : InvalidOperationException(message);

    // Under the _waiting lock: each waiting job's place in its device's queue, behind the job running there.
    private void Renumber()
    {
        foreach (Job job in _waiting)
        {
            job.MoveTo(PlaceOf(job));
        }
    }

    private int PlaceOf(Job job) =>
        _waiting.TakeWhile(w => w != job).Count(w => w.Device == job.Device) + (_running.ContainsKey(job.Device) ? 1 : 0);

    // Stopping the server cancels the running job too, so that the models it uses are not released under it.
    private void Run(Job job, CancellationToken stopping) => JobExecution.Run(job, stopping, _log, _clientText);
}

using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Studio.Work;

/// <summary>What one resident model holds and needs: its weights, and the most one run took on top of them.</summary>
public sealed record ResidentModel(string Kind, long WeightBytes, long RunBytes);

/// <summary>
/// The models resident on one device, kept as long as they fit. The footprint of each kind is measured, not guessed:
/// its weights are the bytes the backend holds more after loading it, its run the most the backend's use rose above that
/// while a job held it (<see cref="ICachedMemory.PeakInUseBytes"/>). A model is loaded only when it is not resident;
/// before that, the least recently used others are released until the device's available memory covers the new
/// model's measured footprint. A kind not yet measured is loaded alone (every other released first, as on a small GPU)
/// and measured by that first run — so the first round of switches reloads, and later rounds reload only what does not
/// fit. A load the device still refuses for memory (<see cref="IMemoryShortage"/>) releases one more and tries again.
/// Jobs on one device run one at a time: a lease holds the device until disposed.
/// </summary>
public sealed class DeviceSlots(DeviceName device, Func<IBackend> open) : IDisposable
{
    private readonly Lazy<IBackend> _backend = new(open);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, (IDisposable Model, long WeightBytes, long LastUse)> _resident = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResidentModel> _measured = new(StringComparer.Ordinal);
    private readonly Lock _state = new();
    private long _clock;

    public DeviceName Device { get; } = device;

    public IBackend Backend => _backend.Value;

    /// <summary>Models loaded so far (a resident one handed out again is not a load).</summary>
    public int Loads { get; private set; }

    /// <summary>The resident models with their measured footprints, most recently used first.</summary>
    public IReadOnlyList<ResidentModel> Resident
    {
        get
        {
            lock (_state)
            {
                return [.. _resident.OrderByDescending(r => r.Value.LastUse)
                    .Select(r => _measured.GetValueOrDefault(r.Key) ?? new ResidentModel(r.Key, r.Value.WeightBytes, 0))];
            }
        }
    }

    /// <summary>
    /// Waits for the device, then lends the model of <paramref name="kind"/> — resident, or loaded now by
    /// <paramref name="load"/> on this device's backend (reporting "load" progress; cancellable while waiting and loading).
    /// </summary>
    public ModelLease<T> Use<T>(string kind, Func<IBackend, T> load, IProgress<GenerationProgress> progress, CancellationToken cancellationToken)
        where T : class, IDisposable
    {
        _gate.Wait(cancellationToken);
        try
        {
            progress.Report(new GenerationProgress("load", 0, 1));
            T model = _resident.TryGetValue(kind, out var held) ? (T)held.Model : Load(kind, load);
            progress.Report(new GenerationProgress("load", 1, 1));
            ICachedMemory? memory = Backend as ICachedMemory;
            if (memory is not null && _measured.TryGetValue(kind, out ResidentModel? measured))
            {
                ReleaseUntil(measured.RunBytes, keep: kind); // room for this run's activations
            }

            memory?.ResetPeak();
            long start = memory?.InUseBytes ?? 0;
            return new ModelLease<T>(model, () => Returned(kind, memory, start));
        }
        catch
        {
            _gate.Release();
            throw;
        }
    }

    public void Dispose()
    {
        lock (_state)
        {
            foreach (var r in _resident.Values)
            {
                r.Model.Dispose();
            }

            _resident.Clear();
        }

        if (_backend.IsValueCreated)
        {
            _backend.Value.Dispose();
        }
    }

    private T Load<T>(string kind, Func<IBackend, T> load)
        where T : class, IDisposable
    {
        ICachedMemory? memory = Backend as ICachedMemory;
        if (memory is null || !_measured.TryGetValue(kind, out ResidentModel? measured))
        {
            while (ReleaseLeastRecent(keep: kind))
            {
                // a kind never measured (or a backend that cannot measure) loads alone
            }
        }
        else
        {
            ReleaseUntil(measured.WeightBytes + measured.RunBytes, keep: kind);
        }

        while (true)
        {
            long before = memory?.InUseBytes ?? 0;
            T model;
            try
            {
                model = load(Backend);
            }
            catch (Exception e) when (IsShortage(e) && ReleaseLeastRecent(keep: kind))
            {
                continue;
            }

            lock (_state)
            {
                _resident[kind] = (model, (memory?.InUseBytes ?? 0) - before, ++_clock);
                Loads++;
            }

            return model;
        }
    }

    private void Returned(string kind, ICachedMemory? memory, long start)
    {
        try
        {
            lock (_state)
            {
                if (_resident.TryGetValue(kind, out var held))
                {
                    _resident[kind] = held with { LastUse = ++_clock };
                    long run = memory is null ? 0 : Math.Max(0, memory.PeakInUseBytes - start);
                    long previous = _measured.GetValueOrDefault(kind)?.RunBytes ?? 0;
                    _measured[kind] = new ResidentModel(kind, held.WeightBytes, Math.Max(run, previous));
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    // Releases the least recently used other models until the device has `bytes` available (or none is left to release).
    private void ReleaseUntil(long bytes, string keep)
    {
        while (Backend is ICachedMemory memory && memory.AvailableBytes < bytes && ReleaseLeastRecent(keep))
        {
        }
    }

    private bool ReleaseLeastRecent(string keep)
    {
        IDisposable model;
        lock (_state)
        {
            var others = _resident.Where(r => r.Key != keep).OrderBy(r => r.Value.LastUse).ToList();
            if (others.Count == 0)
            {
                return false;
            }

            model = others[0].Value.Model;
            _resident.Remove(others[0].Key);
        }

        model.Dispose();
        (Backend as ICachedMemory)?.ReleaseCachedMemory(); // the next model has other shapes: the cache would only add to its peak
        return true;
    }

    private static bool IsShortage(Exception e) => e is IMemoryShortage or WeightsException { MemoryShortage: true };
}

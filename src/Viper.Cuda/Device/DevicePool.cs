using Viper.Cuda.Driver;

namespace Viper.Cuda.Device;

/// <summary>What a <see cref="DevicePool"/> holds: bytes lent to tensors now and at most, kept for reuse, and taken from the device.</summary>
public readonly record struct MemoryStatistics(long InUseBytes, long PeakInUseBytes, long CachedBytes, long ReservedBytes, long DeviceAllocations, long Reuses)
{
    public override string ToString() =>
        $"in use {Mib(InUseBytes)}, peak {Mib(PeakInUseBytes)}, cached {Mib(CachedBytes)}, reserved {Mib(ReservedBytes)} ({DeviceAllocations} device allocations, {Reuses} reuses)";

    private static string Mib(long bytes) => $"{bytes / 1048576.0:F1} MiB";
}

/// <summary>
/// A caching allocator over one device, stream-ordered: the engine enqueues all its work on one stream, so a block the
/// host gives back after enqueueing its last use can be lent to the next allocation at once — that allocation's work is
/// enqueued later on the same stream and runs after (the guarantee cuMemFreeAsync / cuMemAllocAsync give on one stream),
/// and no op pays a cuMemAlloc / cuMemFree. Blocks are kept per size class (512 B steps up to 1 MiB, 128 KiB steps above,
/// as PyTorch's caching allocator rounds small blocks) and never split. When the device runs out, the cached blocks are
/// released and the allocation tried once more; only then is it a <see cref="GpuOutOfMemoryException"/>, after which the
/// pool is as usable as before. On a device that fences every allocation with guard zones (the emulated device) blocks
/// keep their exact size, so an out-of-bounds access still lands in a guard, and a block coming back is filled with
/// 0xFF bytes (NaN in every float dtype), so a read after release — the race a finalizer can start against a native
/// copy — shows up as NaNs in a result instead of passing unseen. Thread-safe: tensors may be released by a finalizer.
/// <para>
/// The lifetime rule: a block goes back to the pool only when its <see cref="DeviceBuffer"/> is released, and the
/// device layer holds a buffer (<see cref="DeviceBuffer.Hold"/>) for the whole of each native call given its address,
/// so a block cannot come back while the host still hands it to the driver; work already enqueued that reads it runs
/// before any later user's work on the same stream. The pool keeps every lent block reachable itself: a block's own
/// handle must not be finalized together with the buffer lent over it (both unreachable in the same collection), which
/// would free the device memory under a cached entry.
/// </para>
/// </summary>
public sealed class DevicePool(IGpuDevice device) : IDisposable
{
    private const long SmallLimit = 1 << 20, SmallStep = 512, LargeStep = 128 << 10;

    private readonly Dictionary<long, Stack<DeviceBuffer>> _cached = [];
    private readonly HashSet<DeviceBuffer> _lent = [];
    private readonly object _gate = new();
    private long _inUse, _peak, _cachedBytes, _reserved, _deviceAllocations, _reuses;
    private bool _disposed;

    public MemoryStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return new MemoryStatistics(_inUse, _peak, _cachedBytes, _reserved, _deviceAllocations, _reuses);
            }
        }
    }

    /// <summary>Starts a new peak at the bytes lent now.</summary>
    public void ResetPeak()
    {
        lock (_gate)
        {
            _peak = _inUse;
        }
    }

    /// <summary>The block size a request of <paramref name="bytes"/> is served from.</summary>
    public static long SizeClass(long bytes)
    {
        long step = bytes <= SmallLimit ? SmallStep : LargeStep;
        return Math.Max(step, (bytes + step - 1) / step * step);
    }

    /// <summary>A buffer of <paramref name="bytes"/> (its <see cref="DeviceBuffer.SizeInBytes"/>), returned to the pool when disposed.</summary>
    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long size = device.GuardsBounds ? Math.Max(bytes, 1) : SizeClass(bytes);
        DeviceBuffer block;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_cached.TryGetValue(size, out Stack<DeviceBuffer>? stack) && stack.TryPop(out DeviceBuffer? reused))
            {
                block = reused;
                _cachedBytes -= size;
                _reuses++;
            }
            else
            {
                block = FromDevice(size);
            }

            _inUse += size;
            _peak = Math.Max(_peak, _inUse);
            _lent.Add(block);
        }

        return new DeviceBuffer(device, block.Address, bytes, _ => Return(block, size));
    }

    /// <summary>Gives every cached block back to the device (what an out-of-memory retry does first).</summary>
    public void ReleaseCached()
    {
        lock (_gate)
        {
            device.Synchronize(); // nothing enqueued may still read a block cuMemFree releases
            foreach (Stack<DeviceBuffer> stack in _cached.Values)
            {
                while (stack.TryPop(out DeviceBuffer? block))
                {
                    _reserved -= block.SizeInBytes;
                    block.Dispose();
                }
            }

            _cached.Clear();
            _cachedBytes = 0;
        }
    }

    public void Dispose()
    {
        ReleaseCached();
        lock (_gate)
        {
            _disposed = true; // blocks still lent are freed to the device as they come back
        }
    }

    private DeviceBuffer FromDevice(long size)
    {
        DeviceBuffer block;
        try
        {
            block = device.Allocate(size);
        }
        catch (GpuOutOfMemoryException) when (_cachedBytes > 0)
        {
            ReleaseCached();
            try
            {
                block = device.Allocate(size);
            }
            catch (GpuOutOfMemoryException e)
            {
                throw new GpuOutOfMemoryException(e.Call, size, $"{Statistics} after releasing the cache");
            }
        }
        catch (GpuOutOfMemoryException e)
        {
            throw new GpuOutOfMemoryException(e.Call, size, Statistics.ToString());
        }

        _reserved += size;
        _deviceAllocations++;
        return block;
    }

    private void Return(DeviceBuffer block, long size)
    {
        if (device.GuardsBounds && !_disposed)
        {
            device.Fill(block, 0xFF);
        }

        lock (_gate)
        {
            _lent.Remove(block);
            _inUse -= size;
            if (_disposed)
            {
                _reserved -= size;
                block.Dispose();
                return;
            }

            (_cached.TryGetValue(size, out Stack<DeviceBuffer>? stack) ? stack : _cached[size] = new()).Push(block);
            _cachedBytes += size;
        }
    }
}

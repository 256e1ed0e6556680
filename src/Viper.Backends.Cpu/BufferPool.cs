namespace Viper.Backends.Cpu;

/// <summary>
/// Caches freed buffers by size class and hands them out again, as PyTorch's caching allocators do. On the
/// machines we run on, first-touch page faults of a fresh 40 MB allocation cost more than the GEMM that
/// fills it (measured: 115 ms to allocate and clear 42 MB); a denoising loop asks for the same sizes every
/// step, so reuse removes that cost. Size classes are eighths of a power of two (≤ 12.5% slack); at most
/// <see cref="CapacityBytes"/> are kept, anything beyond is freed at once. It also counts the bytes rented out now and
/// at most (every tensor and scratch buffer of the backend is rented here).
/// </summary>
internal sealed class BufferPool(long capacityBytes) : IDisposable
{
    private readonly Dictionary<long, Stack<NativeBuffer>> _free = [];
    private long _cachedBytes, _inUse, _peak;

    public long CapacityBytes { get; } = capacityBytes;

    public long CachedBytes
    {
        get
        {
            lock (_free)
            {
                return _cachedBytes;
            }
        }
    }

    public long InUseBytes
    {
        get
        {
            lock (_free)
            {
                return _inUse;
            }
        }
    }

    public long PeakInUseBytes
    {
        get
        {
            lock (_free)
            {
                return _peak;
            }
        }
    }

    public void ResetPeak()
    {
        lock (_free)
        {
            _peak = _inUse;
        }
    }

    /// <summary>A buffer of at least <paramref name="bytes"/>; zero-filled only when asked.</summary>
    public Rental Rent(long bytes, bool zeroed)
    {
        long size = SizeClass(bytes);
        NativeBuffer? buffer = null;
        lock (_free)
        {
            if (_free.TryGetValue(size, out Stack<NativeBuffer>? stack) && stack.Count > 0)
            {
                buffer = stack.Pop();
                _cachedBytes -= size;
            }

            _inUse += size;
            _peak = Math.Max(_peak, _inUse);
        }

        buffer ??= new NativeBuffer(size, bytes);
        if (zeroed)
        {
            buffer.Clear();
        }

        return new Rental(this, buffer);
    }

    public void Dispose() => ReleaseCached();

    /// <summary>Frees every cached buffer (those still rented come back to the cache as usual).</summary>
    public void ReleaseCached()
    {
        lock (_free)
        {
            foreach (NativeBuffer b in _free.Values.SelectMany(s => s))
            {
                b.Dispose();
            }

            _free.Clear();
            _cachedBytes = 0;
        }
    }

    internal static long SizeClass(long bytes)
    {
        if (bytes <= 4096)
        {
            return 4096;
        }

        long power = 1L << (63 - (int)long.LeadingZeroCount(bytes - 1));
        long step = Math.Max(power / 8, 4096);
        return (bytes + step - 1) / step * step;
    }

    private void Return(NativeBuffer buffer)
    {
        lock (_free)
        {
            _inUse -= buffer.SizeInBytes;
            if (_cachedBytes + buffer.SizeInBytes <= CapacityBytes)
            {
                if (!_free.TryGetValue(buffer.SizeInBytes, out Stack<NativeBuffer>? stack))
                {
                    _free[buffer.SizeInBytes] = stack = new Stack<NativeBuffer>();
                }

                stack.Push(buffer);
                _cachedBytes += buffer.SizeInBytes;
                return;
            }
        }

        buffer.Dispose();
    }

    /// <summary>A rented buffer; disposing it gives it back to the pool (once).</summary>
    public sealed unsafe class Rental(BufferPool pool, NativeBuffer buffer) : IDisposable
    {
        private NativeBuffer? _buffer = buffer;

        public bool IsReturned => _buffer is null;

        public byte* Pointer => (_buffer ?? throw new ObjectDisposedException(nameof(Rental))).Pointer;

        public void Dispose()
        {
            NativeBuffer? b = Interlocked.Exchange(ref _buffer, null);
            if (b is not null)
            {
                pool.Return(b);
            }
        }
    }
}

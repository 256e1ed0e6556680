using static Viper.Cuda.Driver.CudaDriver;

namespace Viper.Cuda.Driver;

/// <summary>
/// A page-locked host buffer the device's transfers go through. An upload copies the caller's bytes into it and
/// enqueues the copy to the device without waiting for the stream — the caller's memory is free at once and the host
/// goes on enqueuing kernels; an event recorded after the copy guards the buffer, so the next transfer first waits for
/// the previous one to have read it. A download lands in it at page-locked speed, then is copied out. Transfers larger
/// than the buffer (weights at load) go directly and synchronously, as before. Not used while a stream is being captured:
/// a captured copy would read the buffer at replay, when it holds something else. Thread-safe: every backend on the
/// device shares it (one transfer at a time goes through the buffer).
/// </summary>
internal sealed unsafe class PinnedStaging : IDisposable
{
    /// <summary>Big enough for every per-step upload and most downloads (latents, logits, a decoded image).</summary>
    public const int Capacity = 32 << 20;

    private const uint EventDisableTiming = 2;

    private readonly IntPtr _stream;
    private readonly EventHandle _consumed;
    private readonly Lock _gate = new();
    private IntPtr _buffer;

    public PinnedStaging(IntPtr stream)
    {
        _stream = stream;
        Check(cuMemHostAlloc(out _buffer, Capacity, 0));
        try
        {
            Check(cuEventCreate(out IntPtr ev, EventDisableTiming));
            _consumed = new EventHandle(ev);
        }
        catch
        {
            cuMemFreeHost(_buffer);
            throw;
        }
    }

    /// <summary>Enqueues the upload of <paramref name="source"/> to <paramref name="destination"/>; false when it does not fit.</summary>
    public bool TryUpload(IntPtr destination, ReadOnlySpan<byte> source)
    {
        if (source.Length > Capacity)
        {
            return false;
        }

        using Lock.Scope held = _gate.EnterScope();
        Check(cuEventSynchronize(_consumed.Value)); // the previous transfer has read the buffer (at once if none was recorded)
        source.CopyTo(new Span<byte>((void*)_buffer, source.Length));
        Check(cuMemcpyHtoDAsync(destination, (void*)_buffer, (nuint)source.Length, _stream));
        Check(cuEventRecord(_consumed.Value, _stream));
        return true;
    }

    /// <summary>Copies <paramref name="destination"/>'s length of bytes from the device after the stream's earlier work; false when it does not fit.</summary>
    public bool TryDownload(Span<byte> destination, IntPtr source)
    {
        if (destination.Length > Capacity)
        {
            return false;
        }

        using Lock.Scope held = _gate.EnterScope();
        Check(cuMemcpyDtoHAsync((void*)_buffer, source, (nuint)destination.Length, _stream));
        Check(cuStreamSynchronize(_stream)); // every earlier transfer has finished too, so the next upload need not wait
        new ReadOnlySpan<byte>((void*)_buffer, destination.Length).CopyTo(destination);
        return true;
    }

    public void Dispose()
    {
        if (_buffer == IntPtr.Zero)
        {
            return;
        }

        cuEventSynchronize(_consumed.Value);
        _consumed.Dispose();
        cuMemFreeHost(_buffer);
        _buffer = IntPtr.Zero;
    }
}

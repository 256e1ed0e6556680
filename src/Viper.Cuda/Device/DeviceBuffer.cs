using System.Runtime.InteropServices;

namespace Viper.Cuda.Device;

/// <summary>Device memory owned by one <see cref="IGpuDevice"/>, freed deterministically on dispose.</summary>
public sealed class DeviceBuffer : SafeHandle
{
    private readonly Action<IntPtr> _free;

    internal DeviceBuffer(IGpuDevice device, IntPtr pointer, long bytes, Action<IntPtr> free)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        Device = device;
        SizeInBytes = bytes;
        _free = free;
        SetHandle(pointer);
    }

    public IGpuDevice Device { get; }

    public long SizeInBytes { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>The device address, as a kernel argument sees it.</summary>
    public IntPtr Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    /// <summary>
    /// The address, with the buffer held open until the returned lease is disposed: a native call given the address
    /// (a copy, a fill) cannot have the memory released under it, by a finalizer or a dispose on another thread, even
    /// when the caller has dropped its last reference to the buffer's owner.
    /// </summary>
    public Lease Hold() => new(this);

    /// <summary>Throws unless a transfer of <paramref name="bytes"/> fits this buffer.</summary>
    public void RequireFits(long bytes)
    {
        if (bytes < 0 || bytes > SizeInBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes do not fit a {SizeInBytes}-byte device buffer");
        }
    }

    protected override bool ReleaseHandle()
    {
        _free(handle);
        return true;
    }

    /// <summary>A reference on the handle (<see cref="SafeHandle.DangerousAddRef"/>) for the span of one native call.</summary>
    public readonly ref struct Lease
    {
        private readonly DeviceBuffer _buffer;

        internal Lease(DeviceBuffer buffer)
        {
            bool added = false;
            buffer.DangerousAddRef(ref added); // throws ObjectDisposedException on a closed buffer
            _buffer = buffer;
            Address = buffer.handle;
        }

        public IntPtr Address { get; }

        public void Dispose() => _buffer.DangerousRelease();
    }
}

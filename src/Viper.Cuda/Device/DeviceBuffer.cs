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
}

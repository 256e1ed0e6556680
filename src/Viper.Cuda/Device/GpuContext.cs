namespace Viper.Cuda.Device;

/// <summary>
/// One GPU's state that every backend on it shares: the device (its stream, compiled kernel modules and GEMM plans,
/// all safe to use from several threads) and one stream-ordered <see cref="DevicePool"/>, so an out-of-memory retry
/// frees every backend's cache and two backends never hold two caches of the same memory. Counted: each
/// <see cref="Backend.CudaBackend"/> over it holds a reference (<see cref="AddReference"/>), and the last one released
/// disposes the pool and, when the context owns it, the device. Work from several threads is enqueued on the device's
/// one stream in call order; a graph capture records the whole stream, so a capture must not overlap other work on
/// the same device (the studio runs one job per device at a time).
/// </summary>
public sealed class GpuContext
{
    private readonly bool _ownsDevice;
    private readonly Action<GpuContext>? _closed;
    private readonly Lock _gate = new();
    private int _references;
    private bool _everReferenced;

    /// <param name="closed">Called once the last reference is released (a registry forgetting the context).</param>
    public GpuContext(IGpuDevice device, bool ownsDevice = true, Action<GpuContext>? closed = null)
    {
        Device = device;
        Pool = new DevicePool(device);
        (_ownsDevice, _closed) = (ownsDevice, closed);
    }

    public IGpuDevice Device { get; }

    public DevicePool Pool { get; }


    /// <summary>Takes a reference; false when the context has already closed (a registry then opens a new one).</summary>
    public bool AddReference()
    {
        lock (_gate)
        {
            if (_everReferenced && _references == 0)
            {
                return false;
            }

            _everReferenced = true;
            _references++;
            return true;
        }
    }

    /// <summary>Releases a reference; the last one disposes the pool and (when owned) the device.</summary>
    public void Release()
    {
        lock (_gate)
        {
            if (--_references > 0)
            {
                return;
            }
        }

        Pool.Dispose();
        if (_ownsDevice)
        {
            Device.Dispose();
        }

        _closed?.Invoke(this);
    }
}

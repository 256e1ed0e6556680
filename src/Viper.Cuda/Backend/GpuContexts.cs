using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;

namespace Viper.Cuda.Backend;

/// <summary>
/// The process's GPU contexts, one per device: every <see cref="CudaBackend"/> opened here on the same GPU shares its
/// <see cref="GpuContext"/> (pool, kernel modules, GEMM plans), which closes when the last of them is disposed.
/// </summary>
public static class GpuContexts
{
    private static readonly Dictionary<(bool Emulated, int Ordinal), GpuContext> Open = [];
    private static readonly Lock Gate = new();

    /// <summary>A backend on real GPU <paramref name="ordinal"/> (after CUDA_VISIBLE_DEVICES).</summary>
    public static CudaBackend Gpu(int ordinal) => new(Acquire(false, ordinal, () => new DriverDevice(ordinal)), referenceTaken: true);

    /// <summary>A backend on emulated device <paramref name="ordinal"/>, as VIPER_EMU_DEVICES configures it.</summary>
    public static CudaBackend Emulated(int ordinal) => new(Acquire(true, ordinal, () => EmulatedDevices.FromEnvironment().Open(ordinal)), referenceTaken: true);

    private static GpuContext Acquire(bool emulated, int ordinal, Func<IGpuDevice> open)
    {
        lock (Gate)
        {
            if (Open.TryGetValue((emulated, ordinal), out GpuContext? shared) && shared.AddReference())
            {
                return shared;
            }

            var context = new GpuContext(open(), ownsDevice: true, closed: c => Forget((emulated, ordinal), c));
            context.AddReference();
            Open[(emulated, ordinal)] = context;
            return context;
        }
    }

    private static void Forget((bool, int) key, GpuContext context)
    {
        lock (Gate)
        {
            if (Open.TryGetValue(key, out GpuContext? current) && ReferenceEquals(current, context))
            {
                Open.Remove(key);
            }
        }
    }
}

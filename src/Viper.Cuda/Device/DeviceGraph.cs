using Viper.Runtime;

namespace Viper.Cuda.Device;

/// <summary>A captured sequence of device work (one denoising step, say) that replays without re-recording.</summary>
public abstract class DeviceGraph : ICapturedWork
{
    public abstract int NodeCount { get; }

    public abstract void Replay();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>Tensor memory on a GPU device: its own buffer, or one lent by a graph capture's arena (freed with the graph).</summary>
internal sealed class CudaStorage(CudaBackend backend, DeviceBuffer buffer, CaptureArena? arena = null) : TensorStorage(backend, buffer.SizeInBytes)
{
    private bool _disposed;

    public DeviceBuffer Buffer { get; } = buffer;

    public override bool IsDisposed => _disposed || Buffer.IsClosed;

    protected override void Dispose(bool disposing)
    {
        if (!disposing || _disposed)
        {
            return;
        }

        _disposed = true;
        if (arena is null)
        {
            Buffer.Dispose();
        }
        else
        {
            arena.Return(Buffer);
        }
    }
}

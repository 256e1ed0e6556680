using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>Tensor memory on a GPU device.</summary>
internal sealed class CudaStorage(CudaBackend backend, DeviceBuffer buffer) : TensorStorage(backend, buffer.SizeInBytes)
{
    public DeviceBuffer Buffer { get; } = buffer;

    public override bool IsDisposed => Buffer.IsClosed;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Buffer.Dispose();
        }
    }
}

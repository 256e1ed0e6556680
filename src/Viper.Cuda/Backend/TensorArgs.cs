using Viper.Cuda.Device;

namespace Viper.Cuda.Backend;

internal static class TensorArgs
{
    /// <summary>
    /// A tensor kernel argument: its device address (null for an absent optional tensor), with the tensor held until
    /// the launch returns so the finalizer cannot free it while the kernel reads it.
    /// </summary>
    public static KernelArgs Add(this KernelArgs args, CudaBackend backend, Tensor? tensor) => args.Add(backend.AddressOrNull(tensor), tensor);
}

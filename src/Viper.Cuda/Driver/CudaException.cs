namespace Viper.Cuda.Driver;

/// <summary>A CUDA driver, NVRTC or cuBLASLt call that failed; the message names the call and the status.</summary>
public class CudaException : Exception
{
    public CudaException(string call, int status, string description)
        : base($"{call} failed: {description} ({status})")
    {
        Call = call;
        Status = status;
    }

    public string Call { get; }

    public int Status { get; }
}

/// <summary>cuMemAlloc reported CUDA_ERROR_OUT_OF_MEMORY.</summary>
public sealed class GpuOutOfMemoryException(string call, long bytes)
    : CudaException(call, CudaDriver.OutOfMemory, $"GPU out of memory allocating {bytes:N0} bytes");

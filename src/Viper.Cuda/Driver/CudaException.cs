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

/// <summary>The device had no memory for an allocation (CUDA_ERROR_OUT_OF_MEMORY, or the emulated device's limit); <paramref name="state"/> says what was held.</summary>
public sealed class GpuOutOfMemoryException(string call, long bytes, string? state = null)
    : CudaException(call, CudaDriver.OutOfMemory, $"GPU out of memory allocating {bytes:N0} bytes" + (state is null ? "" : $" ({state})")),
    Runtime.IMemoryShortage
{
    public long Bytes { get; } = bytes;
}

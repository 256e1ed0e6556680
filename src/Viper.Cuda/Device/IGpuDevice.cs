namespace Viper.Cuda.Device;

/// <summary>
/// What the CUDA backend needs from a GPU: memory, copies, kernel launches by entry name with cuLaunchKernel's
/// argument packing, a GEMM, and stream capture into replayable graphs. Implemented by the real driver and by
/// the emulated device that runs the same kernels/*.cu on the host, so one test body covers both.
/// </summary>
public interface IGpuDevice : IDisposable
{
    string Name { get; }

    /// <summary>The device's ordinal among those of its kind (CUDA's, after CUDA_VISIBLE_DEVICES; the emulator's).</summary>
    int Ordinal { get; }

    /// <summary>Streaming multiprocessors, what launch configurations size their grids by.</summary>
    int MultiprocessorCount { get; }

    /// <summary>The most shared memory one block may use (the opt-in limit: 227 KiB on an H100, 163 KiB on an A100).</summary>
    int MaxSharedBytesPerBlock { get; }

    /// <summary>Every allocation is fenced by guard zones (the emulated device): allocators keep exact sizes so overruns still hit one.</summary>
    bool GuardsBounds { get; }

    DeviceBuffer Allocate(long bytes);

    /// <summary>Device memory that allocations can still take (cuMemGetInfo's free bytes on a GPU).</summary>
    long FreeMemoryBytes { get; }

    /// <summary>Copies host bytes into the buffer starting <paramref name="offset"/> bytes in.</summary>
    void CopyToDevice(DeviceBuffer destination, ReadOnlySpan<byte> source, long offset = 0);

    /// <summary>Copies bytes starting <paramref name="offset"/> bytes into the buffer to the host.</summary>
    void CopyToHost(DeviceBuffer source, Span<byte> destination, long offset = 0);

    void CopyDeviceToDevice(DeviceBuffer destination, DeviceBuffer source, long bytes);

    void Fill(DeviceBuffer destination, byte value);

    bool HasKernel(string entry);

    void Launch(string entry, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args);

    /// <summary>
    /// Whether <see cref="Gemm"/> takes FP8 (E4M3) operands with scale pointers: FP8 tensor cores (compute capability 8.9
    /// and later: Ada, Hopper) and a cuBLASLt that has them (11.8+); the emulated device when made to stand in for one.
    /// </summary>
    bool SupportsFp8Gemm { get; }

    /// <summary>Row-major, strided-batch GEMM with f32 accumulation (cuBLASLt on the driver).</summary>
    void Gemm(in GemmDescriptor gemm);

    /// <summary>Records what <paramref name="record"/> enqueues into a graph instead of running it.</summary>
    DeviceGraph Capture(Action record);

    void Synchronize();
}

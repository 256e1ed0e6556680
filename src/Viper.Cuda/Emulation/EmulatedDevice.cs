using Viper.Cuda.Device;
using Viper.Runtime;
using static Viper.Cuda.Emulation.EmulatorNative;

namespace Viper.Cuda.Emulation;

/// <summary>
/// The CUDA device emulated on the host: the same kernels/*.cu compiled by g++, each CUDA thread a fiber,
/// device memory fenced by guard zones so an out-of-bounds write fails the launch that made it.
/// Work runs synchronously, so <see cref="Synchronize"/> has nothing to wait for. Several devices can be emulated
/// (<paramref name="ordinal"/>, see <see cref="EmulatedDevices"/>): each runs its launches one at a time on its own
/// host threads, so launches on two devices run side by side; memory is the host's, so a copy between them is a memcpy.
/// </summary>
public sealed class EmulatedDevice : IGpuDevice
{
    /// <summary>The SM count the emulated device reports by default: an H100 SXM's, so launches are sized as there.</summary>
    public const int DefaultMultiprocessors = 132;

    /// <summary>How many devices the emulator can present (kernels/emu/runtime.cpp's kMaxDevices).</summary>
    public const int MaxDevices = 8;

    private long _liveBytes;

    /// <param name="threads">Host threads that run this device's blocks (null: every core); fixed at the device's first launch.</param>
    /// <param name="fp8Gemm">Stand in for a GPU with FP8 tensor cores (sm_89+): GEMMs take E4M3 operands with scale pointers.</param>
    public EmulatedDevice(int multiprocessors = DefaultMultiprocessors, long? memoryLimitBytes = null, int maxSharedBytesPerBlock = 227 * 1024,
        int ordinal = 0, int? threads = null, bool fp8Gemm = false)
    {
        SupportsFp8Gemm = fp8Gemm;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(multiprocessors);
        if (ordinal is < 0 or >= MaxDevices)
        {
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"emulated device {ordinal} requested; the emulator presents at most {MaxDevices}");
        }

        (MultiprocessorCount, MemoryLimitBytes, MaxSharedBytesPerBlock, Ordinal) = (multiprocessors, memoryLimitBytes, maxSharedBytesPerBlock, ordinal);
        if (threads is { } t)
        {
            Check(viper_emu_configure_device(ordinal, t));
        }
    }

    /// <summary>Which emulated device this is (CUDA's device ordinal).</summary>
    public int Ordinal { get; }

    public string Name => Ordinal == 0 ? "emulated CUDA device" : $"emulated CUDA device {Ordinal}";

    public int MultiprocessorCount { get; }

    public bool GuardsBounds => true;

    /// <summary>Off by default (an A100 has no FP8 tensor cores), so prefill runs as before unless a test asks.</summary>
    public bool SupportsFp8Gemm { get; }

    /// <summary>An H100's opt-in limit by default, so kernels are chosen as there; smaller to stand in for a smaller GPU.</summary>
    public int MaxSharedBytesPerBlock { get; }

    /// <summary>When set, allocations past this many live bytes fail as a GPU out of memory does (for allocator tests).</summary>
    public long? MemoryLimitBytes { get; }

    /// <summary>The limit less the live bytes; without a limit, the host's available RAM (the emulator allocates there).</summary>
    public long FreeMemoryBytes => MemoryLimitBytes is { } limit ? Math.Max(0, limit - Interlocked.Read(ref _liveBytes)) : Runtime.HostMemory.AvailableBytes();

    public static bool IsAvailable => LibraryPath is not null;

    /// <summary>The emulator library in use (VIPER_EMU_LIBRARY, or the one tools/emu/build.sh built).</summary>
    public static string? LibraryPath => EmulatorNative.LibraryPath;

    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (Interlocked.Add(ref _liveBytes, bytes) is var live && live > MemoryLimitBytes)
        {
            Interlocked.Add(ref _liveBytes, -bytes);
            throw new Driver.GpuOutOfMemoryException("viper_emu_malloc", bytes, $"the emulated device's limit of {MemoryLimitBytes:N0} bytes");
        }

        Enter();
        Check(viper_emu_malloc(out IntPtr p, (nuint)bytes));
        return new DeviceBuffer(this, p, bytes, pointer =>
        {
            Interlocked.Add(ref _liveBytes, -bytes);
            FreeChecked(pointer);
        });
    }

    public unsafe void CopyToDevice(DeviceBuffer destination, ReadOnlySpan<byte> source, long offset = 0)
    {
        destination.RequireFits(offset + source.Length);
        using DeviceBuffer.Lease held = destination.Hold();
        fixed (byte* s = source)
        {
            Check(viper_emu_memcpy(held.Address + (nint)offset, (IntPtr)s, (nuint)source.Length, 0));
        }
    }

    public unsafe void CopyToHost(DeviceBuffer source, Span<byte> destination, long offset = 0)
    {
        source.RequireFits(offset + destination.Length);
        using DeviceBuffer.Lease held = source.Hold();
        fixed (byte* d = destination)
        {
            Check(viper_emu_memcpy((IntPtr)d, held.Address + (nint)offset, (nuint)destination.Length, 1));
        }
    }

    public void CopyDeviceToDevice(DeviceBuffer destination, DeviceBuffer source, long bytes)
    {
        destination.RequireFits(bytes);
        source.RequireFits(bytes);
        using DeviceBuffer.Lease to = destination.Hold(), from = source.Hold();
        Check(viper_emu_memcpy(to.Address, from.Address, (nuint)bytes, 2));
    }

    public void Fill(DeviceBuffer destination, byte value)
    {
        using DeviceBuffer.Lease held = destination.Hold();
        Check(viper_emu_memset(held.Address, value, (nuint)destination.SizeInBytes));
    }

    public bool HasKernel(string entry) => viper_emu_kernel_exists(entry) != 0;

    public void Launch(string entry, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args)
    {
        Enter();
        args.WithPointers(p => Check(viper_emu_launch(entry, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (nuint)sharedBytes, p)));
    }

    public void Gemm(in GemmDescriptor g) => Check(viper_emu_gemm(
        g.TransposeA ? 1 : 0, g.TransposeB ? 1 : 0, g.M, g.N, g.K, g.Alpha, g.A, g.Lda, g.StrideA,
        g.B, g.Ldb, g.StrideB, g.Beta, g.C, g.Ldc, g.StrideC, g.Batch,
        DTypeCode(g.InputType), DTypeCode(g.OutputType), g.Bias, (int)g.Epilogue, g.ScaleA, g.ScaleB));

    public DeviceGraph Capture(Action record)
    {
        Enter();
        Check(viper_emu_capture_begin());
        try
        {
            record();
        }
        catch
        {
            viper_emu_capture_end(out IntPtr abandoned);
            viper_emu_graph_destroy(abandoned);
            throw;
        }

        Check(viper_emu_capture_end(out IntPtr graph));
        return new EmulatedGraph(graph);
    }

    public void Synchronize()
    {
    }

    public void Dispose()
    {
    }

    /// <summary>Makes this device the calling thread's current one (the emulator's cuCtxSetCurrent): launches and allocations act on it.</summary>
    private void Enter() => Check(viper_emu_set_device(Ordinal));

    private static int DTypeCode(DType t) => t switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.BF16 => 2,
        DType.F8E4M3 => 3,
        _ => throw new ArgumentException($"GEMM takes f32, f16, bf16 or FP8 E4M3, not {t}"),
    };

    // A guard zone found broken when memory is freed (a write no launch check saw) is reported, not swallowed.
    private static void FreeChecked(IntPtr p)
    {
        if (viper_emu_free(p) != 0)
        {
            Console.Error.WriteLine($"emulated device: {System.Runtime.InteropServices.Marshal.PtrToStringUTF8(viper_emu_last_error())}");
        }
    }

    private sealed class EmulatedGraph(IntPtr handle) : DeviceGraph
    {
        private IntPtr _handle = handle;

        public override int NodeCount => viper_emu_graph_nodes(Live());

        public override void Replay() => Check(viper_emu_graph_launch(Live()));

        protected override void Dispose(bool disposing)
        {
            if (_handle != IntPtr.Zero)
            {
                viper_emu_graph_destroy(_handle);
                _handle = IntPtr.Zero;
            }
        }

        private IntPtr Live() => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(DeviceGraph));
    }
}

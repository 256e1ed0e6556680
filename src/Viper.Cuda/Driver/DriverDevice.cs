using System.Text;
using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using static Viper.Cuda.Driver.CudaDriver;

namespace Viper.Cuda.Driver;

/// <summary>
/// A real NVIDIA GPU through the driver API: the primary context (made current on every calling thread), one
/// non-blocking stream, kernel families compiled by NVRTC for the device's SM on first use (cached on disk), GEMMs on
/// cuBLASLt with plans kept per shape, transfers up to 32 MiB through a page-locked staging buffer (uploads then do not
/// wait for the stream). Thread-safe, so that every backend on the GPU shares one (<see cref="Device.GpuContext"/>): work
/// from any thread is enqueued on the one stream in call order, which is what the stream-ordered pool relies on.
/// </summary>
public sealed unsafe class DriverDevice : IGpuDevice
{
    private readonly int _device;
    private readonly PrimaryContextHandle _context;
    private readonly StreamHandle _stream;
    private readonly NvrtcCompiler _compiler;
    private readonly Dictionary<string, ModuleHandle> _modules = [];
    private readonly Dictionary<string, IntPtr> _functions = [];
    private readonly Lock _functionsGate = new();
    private readonly Lazy<CublasLtGemm> _gemm;
    private readonly Lazy<bool> _fp8Gemm; // asked by every prefill linear: cuBLASLt's version is read once
    private readonly Lazy<PinnedStaging> _staging;
    private bool _capturing;

    public DriverDevice(int ordinal = 0, KernelCache? cache = null)
    {
        Check(cuInit(0));
        Check(cuDeviceGetCount(out int count));
        if (ordinal < 0 || ordinal >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(ordinal), $"GPU {ordinal} requested, {count} present");
        }

        Ordinal = ordinal;
        Check(cuDeviceGet(out _device, ordinal));
        Check(cuDevicePrimaryCtxRetain(out IntPtr context, _device));
        _context = new PrimaryContextHandle(context, _device);
        Check(cuCtxSetCurrent(context));
        Check(cuStreamCreate(out IntPtr stream, StreamNonBlocking));
        _stream = new StreamHandle(stream);
        Check(cuDeviceGetAttribute(out int major, AttributeComputeCapabilityMajor, _device));
        Check(cuDeviceGetAttribute(out int minor, AttributeComputeCapabilityMinor, _device));
        Check(cuDeviceGetAttribute(out int sms, AttributeMultiprocessorCount, _device));
        Check(cuDeviceGetAttribute(out int sharedOptin, AttributeMaxSharedMemoryPerBlockOptin, _device));
        Check(cuDeviceTotalMem(out nuint memory, _device));
        MaxSharedBytesPerBlock = sharedOptin;
        ComputeCapability = (major, minor);
        MultiprocessorCount = sms;
        TotalMemoryBytes = (long)memory;
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, _device));
        Name = Encoding.UTF8.GetString(name, new ReadOnlySpan<byte>(name, 256).IndexOf((byte)0));
        _compiler = new NvrtcCompiler($"sm_{major}{minor}", cache ?? KernelCache.Default());
        _gemm = new Lazy<CublasLtGemm>(() => new CublasLtGemm(this, _stream.Value));
        _fp8Gemm = new Lazy<bool>(() => ComputeCapability.CompareTo((8, 9)) >= 0 && CublasLt.cublasLtGetVersion() >= CublasLt.FirstFp8Version);
        _staging = new Lazy<PinnedStaging>(() => new PinnedStaging(_stream.Value));
    }

    public string Name { get; }

    public int Ordinal { get; }

    /// <summary>GPUs the driver presents (after CUDA_VISIBLE_DEVICES).</summary>
    public static int Count()
    {
        Check(cuInit(0));
        Check(cuDeviceGetCount(out int count));
        return count;
    }

    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>FP8 tensor cores (sm_89 and later) and cuBLASLt 11.8 or later, the first with FP8 matmuls.</summary>
    public bool SupportsFp8Gemm => _fp8Gemm.Value;

    public int MultiprocessorCount { get; }

    public bool GuardsBounds => false;

    public int MaxSharedBytesPerBlock { get; }

    public long TotalMemoryBytes { get; }

    public long FreeMemoryBytes
    {
        get
        {
            Enter();
            Check(cuMemGetInfo(out nuint free, out _));
            return (long)free;
        }
    }

    /// <summary>Null when a GPU can be used here, else why not (no driver, no device).</summary>
    public static string? WhyUnavailable()
    {
        if (NativeLibraries.WhyUnavailable(NativeLibraries.Cuda) is { } missing)
        {
            return missing;
        }

        int init = cuInit(0);
        if (init != Success)
        {
            return $"cuInit failed: {Describe(init)}";
        }

        return cuDeviceGetCount(out int count) == Success && count > 0 ? null : "the CUDA driver sees no GPU";
    }

    public DeviceBuffer Allocate(long bytes)
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        int result = cuMemAlloc(out IntPtr p, (nuint)Math.Max(bytes, 1));
        if (result == OutOfMemory)
        {
            throw new GpuOutOfMemoryException("cuMemAlloc", bytes);
        }

        Check(result, "cuMemAlloc");
        return new DeviceBuffer(this, p, bytes, Free);
    }

    public void CopyToDevice(DeviceBuffer destination, ReadOnlySpan<byte> source, long offset = 0)
    {
        Enter();
        destination.RequireFits(offset + source.Length);
        using DeviceBuffer.Lease held = destination.Hold();
        if (!_capturing && _staging.Value.TryUpload(held.Address + (nint)offset, source))
        {
            return; // enqueued from page-locked memory: no wait for the stream
        }

        fixed (byte* s = source)
        {
            Check(cuMemcpyHtoDAsync(held.Address + (nint)offset, s, (nuint)source.Length, _stream.Value));
            Check(cuStreamSynchronize(_stream.Value)); // the span is only pinned for this call
        }
    }

    public void CopyToHost(DeviceBuffer source, Span<byte> destination, long offset = 0)
    {
        Enter();
        source.RequireFits(offset + destination.Length);
        using DeviceBuffer.Lease held = source.Hold();
        if (!_capturing && _staging.Value.TryDownload(destination, held.Address + (nint)offset))
        {
            return;
        }

        fixed (byte* d = destination)
        {
            Check(cuMemcpyDtoHAsync(d, held.Address + (nint)offset, (nuint)destination.Length, _stream.Value));
            Check(cuStreamSynchronize(_stream.Value));
        }
    }

    public void CopyDeviceToDevice(DeviceBuffer destination, DeviceBuffer source, long bytes)
    {
        Enter();
        destination.RequireFits(bytes);
        source.RequireFits(bytes);
        using DeviceBuffer.Lease to = destination.Hold(), from = source.Hold();
        Check(cuMemcpyDtoDAsync(to.Address, from.Address, (nuint)bytes, _stream.Value));
    }

    public void Fill(DeviceBuffer destination, byte value)
    {
        Enter();
        using DeviceBuffer.Lease held = destination.Hold();
        Check(cuMemsetD8Async(held.Address, value, (nuint)destination.SizeInBytes, _stream.Value));
    }

    public bool HasKernel(string entry) => KernelTable.Families.Any(f => f.Entries.Contains(entry));

    public void Launch(string entry, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args)
    {
        Enter();
        IntPtr function = Function(entry);
        if (sharedBytes > MaxSharedBytesPerBlock)
        {
            throw new ArgumentException($"{entry}: {sharedBytes} bytes of shared memory per block exceed this GPU's {MaxSharedBytesPerBlock}");
        }

        if (sharedBytes > 48 * 1024)
        {
            Check(cuFuncSetAttribute(function, FunctionAttributeMaxDynamicSharedSizeBytes, sharedBytes));
        }

        args.WithPointers(p => Check(cuLaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedBytes,
            _stream.Value, p, IntPtr.Zero), $"cuLaunchKernel({entry})"));
    }

    /// <summary>Resident blocks per SM for a kernel at a block size and dynamic shared memory (cuOccupancy…).</summary>
    public int MaxActiveBlocksPerMultiprocessor(string entry, int blockSize, int sharedBytes)
    {
        Enter();
        Check(cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, Function(entry), blockSize, (nuint)sharedBytes));
        return blocks;
    }

    public void Gemm(in GemmDescriptor gemm)
    {
        Enter();
        _gemm.Value.Run(gemm);
    }

    public DeviceGraph Capture(Action record)
    {
        Enter();
        // Relaxed: ops captured by the backend allocate their outputs (cuMemAlloc) while the stream is capturing.
        Check(cuStreamBeginCapture(_stream.Value, StreamCaptureModeRelaxed));
        _capturing = true;
        try
        {
            record();
        }
        catch
        {
            _capturing = false;
            if (cuStreamEndCapture(_stream.Value, out IntPtr abandoned) == Success)
            {
                cuGraphDestroy(abandoned);
            }

            throw;
        }

        _capturing = false;
        Check(cuStreamEndCapture(_stream.Value, out IntPtr graph));
        var graphHandle = new GraphHandle(graph);
        Check(cuGraphInstantiateWithFlags(out IntPtr exec, graph, 0));
        return new DriverGraph(graphHandle, new GraphExecHandle(exec), _stream);
    }

    /// <summary>Milliseconds the device spent on what <paramref name="work"/> enqueues, between two stream events.</summary>
    public float Time(Action work)
    {
        Enter();
        Check(cuEventCreate(out IntPtr start, 0));
        using var startHandle = new EventHandle(start);
        Check(cuEventCreate(out IntPtr end, 0));
        using var endHandle = new EventHandle(end);
        Check(cuEventRecord(start, _stream.Value));
        work();
        Check(cuEventRecord(end, _stream.Value));
        Check(cuEventSynchronize(end));
        Check(cuEventElapsedTime(out float ms, start, end));
        return ms;
    }

    public void Synchronize()
    {
        Enter();
        Check(cuStreamSynchronize(_stream.Value));
    }

    public void Dispose()
    {
        if (_gemm.IsValueCreated)
        {
            _gemm.Value.Dispose();
        }

        if (_staging.IsValueCreated)
        {
            _staging.Value.Dispose();
        }

        foreach (ModuleHandle m in _modules.Values)
        {
            m.Dispose();
        }

        _stream.Dispose();
        _context.Dispose();
    }

    /// <summary>
    /// Makes this device's context current on the calling thread: the driver's current context is per thread, and the
    /// engine is called from many (thread-pool continuations, a finalizer releasing a buffer).
    /// </summary>
    private void Enter() => Check(cuCtxSetCurrent(_context.Value));

    /// <summary>cuMemFree on whatever thread releases the buffer; a failure is reported (a finalizer cannot throw).</summary>
    private void Free(IntPtr pointer)
    {
        if (_context.IsClosed)
        {
            return; // the device was disposed: releasing its primary context released its memory
        }

        int status = cuCtxSetCurrent(_context.Value);
        status = status == Success ? cuMemFree(pointer) : status;
        if (status != Success)
        {
            Console.Error.WriteLine($"cuMemFree(0x{pointer:x}) failed: {Describe(status)} ({status})");
        }
    }

    private IntPtr Function(string entry)
    {
        using Lock.Scope held = _functionsGate.EnterScope();
        if (_functions.TryGetValue(entry, out IntPtr f))
        {
            return f;
        }

        KernelFamily family = KernelTable.Families.FirstOrDefault(x => x.Entries.Contains(entry))
            ?? throw new ArgumentException($"no kernel entry '{entry}' in the kernel table");
        if (!_modules.TryGetValue(family.Source, out ModuleHandle? module))
        {
            byte[] cubin = _compiler.Compile(family);
            fixed (byte* image = cubin)
            {
                Check(cuModuleLoadData(out IntPtr m, image));
                module = new ModuleHandle(m);
            }

            _modules[family.Source] = module;
        }

        Check(cuModuleGetFunction(out f, module.Value, entry), $"cuModuleGetFunction({entry})");
        _functions[entry] = f;
        return f;
    }

    private sealed class DriverGraph(GraphHandle graph, GraphExecHandle exec, StreamHandle stream) : DeviceGraph
    {
        public override int NodeCount
        {
            get
            {
                nuint count = 0;
                Check(cuGraphGetNodes(graph.Value, IntPtr.Zero, ref count));
                return (int)count;
            }
        }

        public override void Replay() => Check(cuGraphLaunch(exec.Value, stream.Value));

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                exec.Dispose();
                graph.Dispose();
            }
        }
    }
}

using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>
/// The CUDA backend: every op runs kernels/*.cu on an <see cref="IGpuDevice"/> — a real GPU through the
/// driver, or the emulated device in CI — with GEMMs on cuBLASLt (reference GEMM when emulated). Shapes and
/// dtypes are validated by the same <see cref="OpChecks"/> as the CPU backend. Ops are split per family. Backends on
/// one GPU share its <see cref="GpuContext"/> (see <see cref="GpuContexts"/>): memory, kernels and GEMM plans.
/// </summary>
public sealed partial class CudaBackend : Runtime.Backend, IGraphCapture, ICachedMemory, IDeviceTransfer
{
    private readonly BadValueRecord _badValues;
    private readonly GpuContext _context;
    private readonly DevicePool _pool;
    private CaptureArena? _arena;

    /// <summary>A backend with a context of its own over <paramref name="device"/> (disposing the device with it when it owns it).</summary>
    public CudaBackend(IGpuDevice device, bool ownsDevice = true)
        : this(TakeReference(new GpuContext(device, ownsDevice)), referenceTaken: true)
    {
    }

    /// <summary>A backend on a shared context: it takes a reference, released when the backend is disposed.</summary>
    public CudaBackend(GpuContext context)
        : this(context, referenceTaken: false)
    {
    }

    // The context's reference has been taken for this backend (by the caller, or above).
    internal CudaBackend(GpuContext context, bool referenceTaken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!referenceTaken)
        {
            TakeReference(context);
        }

        (_context, _pool, Device) = (context, context.Pool, context.Device);
        _badValues = new BadValueRecord(Device);
    }

    public IGpuDevice Device { get; }

    /// <summary>The context this backend shares with every other backend on its GPU.</summary>
    public GpuContext Context => _context;

    public override string Name => $"cuda ({Device.Name})";

    /// <summary>The caching allocator's figures (the context's, shared by every backend on the GPU).</summary>
    public MemoryStatistics Memory => _pool.Statistics;

    /// <summary>Gives the cached (free) device memory back to the device, for other processes or a larger model.</summary>
    public void ReleaseCachedMemory() => _pool.ReleaseCached();

    public long AvailableBytes => Device.FreeMemoryBytes + _pool.Statistics.CachedBytes;

    public string MemoryName => "GPU memory";

    public long InUseBytes => _pool.Statistics.InUseBytes;

    public long PeakInUseBytes => _pool.Statistics.PeakInUseBytes;

    public void ResetPeak() => _pool.ResetPeak();

    public override Tensor Allocate(Shape shape, DType dtype)
    {
        Tensor t = AllocateUninitialized(shape, dtype);
        Device.Fill(Buffer(t), 0);
        return t;
    }

    protected override Tensor FromHostCore(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        Tensor t = AllocateUninitialized(shape, dtype);
        Device.CopyToDevice(Buffer(t), data);
        return t;
    }

    protected override void CopyToHostCore(Tensor tensor, Span<byte> destination)
    {
        Device.CopyToHost(Buffer(tensor), destination, tensor.ByteOffset);
        _badValues.ThrowIfSet();
    }

    /// <summary>
    /// Waits for the device's work and raises any out-of-range steering value a kernel met since the last check (a
    /// download checks too): a <see cref="TensorValueException"/> naming the op and the value.
    /// </summary>
    public void Synchronize()
    {
        Device.Synchronize();
        _badValues.ThrowIfSet();
    }

    protected override void CopyIntoCore(Tensor source, Tensor destination) =>
        CopyRows(source, 0, 0, destination, 0, 0, 1, source.SizeInBytes);

    /// <summary>
    /// A device copy of another CUDA backend's tensor: on the same GPU (the shared context: the copy is enqueued after
    /// the source's work on the one stream), or from another emulated device (emulated devices share the host's memory,
    /// as GPUs with peer access share an address space; their work runs synchronously). Between two real GPUs the copy
    /// is staged through host memory by the caller (null here).
    /// </summary>
    public Tensor? TryCopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Backend is not CudaBackend other
            || !(ReferenceEquals(other._context, _context) || (other.Device is Emulation.EmulatedDevice && Device is Emulation.EmulatedDevice)))
        {
            return null;
        }

        Tensor copy = AllocateUninitialized(source.Shape, source.DType);
        CopyRows(source, 0, 0, copy, 0, 0, 1, source.SizeInBytes);
        return copy;
    }

    /// <summary>Overwrites an existing tensor (a graph's input, say) with host bytes of its size and dtype.</summary>
    public void CopyFromHost(Tensor destination, ReadOnlySpan<byte> data)
    {
        Own(destination);
        if (data.Length != destination.SizeInBytes)
        {
            throw new ArgumentException($"{data.Length} bytes given for {destination} of {destination.SizeInBytes} bytes");
        }

        Device.CopyToDevice(Buffer(destination), data, destination.ByteOffset);
    }

    /// <summary>
    /// Records the ops <paramref name="step"/> runs (one denoising step, say) into a graph instead of running them.
    /// Every tensor allocated inside — outputs, intermediates, op temporaries — gets its memory at capture from the
    /// graph's <see cref="CaptureArena"/> and keeps it for the graph's life: replays read the current contents of the
    /// inputs and rewrite those same tensors; disposing the graph frees the memory. Intermediates disposed inside the
    /// recording lend their memory to later allocations of the same size.
    /// </summary>
    public DeviceGraph Capture(Action step)
    {
        if (_arena is not null)
        {
            throw new InvalidOperationException("a capture is already in progress on this backend");
        }

        var arena = _arena = new CaptureArena();
        try
        {
            DeviceGraph graph = Device.Capture(step);
            arena.EndRecording();
            return new GraphWithMemory(graph, arena);
        }
        catch
        {
            arena.Dispose();
            throw;
        }
        finally
        {
            _arena = null;
        }
    }

    ICapturedWork IGraphCapture.Capture(Action record) => Capture(record);

    protected override void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        _badValues.Dispose();
        _context.Release();
    }

    private static GpuContext TakeReference(GpuContext context) => context.AddReference()
        ? context
        : throw new ObjectDisposedException(nameof(GpuContext), "the GPU context was closed by its last backend");

    // While recording, op temporaries and disposed intermediates go back to the capture's arena for reuse.
    private Tensor AllocateUninitialized(Shape shape, DType dtype)
    {
        long bytes = dtype.BytesFor(shape);
        CudaStorage storage = _arena is { } arena
            ? new CudaStorage(this, arena.Rent(bytes, _pool.Allocate), arena)
            : new CudaStorage(this, _pool.Allocate(bytes));
        return new Tensor(storage, shape, dtype);
    }

    /// <summary>An f32 result rounded once to <paramref name="dtype"/> (itself when f32).</summary>
    private Tensor RoundedTo(Tensor f32, DType dtype)
    {
        if (dtype == DType.F32)
        {
            return f32;
        }

        Tensor rounded = Cast(f32, dtype);
        f32.Dispose();
        return rounded;
    }

    private static DeviceBuffer Buffer(Tensor t) => ((CudaStorage)t.Storage).Buffer;

    /// <summary>The device address of the tensor's first element (views included).</summary>
    private static IntPtr Address(Tensor t) => Buffer(t).Address + (nint)t.ByteOffset;

    internal IntPtr AddressOrNull(Tensor? t) => t is null ? IntPtr.Zero : Address(t);

    /// <summary>The bad-value record kernels write to when a steering value (id, key length) is out of range.</summary>
    internal DeviceBuffer BadValues => _badValues.Buffer;

    private void LaunchElementwise(string entry, long n, KernelArgs args)
    {
        if (n == 0)
        {
            return;
        }

        (Dim3 grid, Dim3 block) = Launchers.Elementwise(n, Device.MultiprocessorCount);
        Device.Launch(entry, grid, block, 0, args);
    }

    private void LaunchRows(string entry, long rows, int cols, KernelArgs args)
    {
        if (rows == 0)
        {
            return;
        }

        (Dim3 grid, Dim3 block) = Launchers.RowReduce(rows, cols);
        Device.Launch(entry, grid, block, 0, args);
    }

    /// <summary>
    /// Copies <paramref name="rows"/> runs of <paramref name="bytes"/> between pitched layouts (concat, split, KV cache),
    /// starting the given byte offsets into each tensor.
    /// </summary>
    private void CopyRows(Tensor source, long sourceOffset, long sourcePitch, Tensor destination, long destinationOffset, long destinationPitch,
        long rows, long bytes) =>
        LaunchElementwise("copy_rows", rows * bytes, new KernelArgs()
            .Add(Address(source) + (nint)sourceOffset, source).Add(sourcePitch)
            .Add(Address(destination) + (nint)destinationOffset, destination).Add(destinationPitch).Add(rows).Add(bytes));

    /// <summary>A captured graph that owns the device memory its ops were recorded with.</summary>
    private sealed class GraphWithMemory(DeviceGraph graph, CaptureArena arena) : DeviceGraph
    {
        public override int NodeCount => graph.NodeCount;

        public override void Replay() => graph.Replay();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                graph.Dispose();
                arena.Dispose();
            }
        }
    }
}

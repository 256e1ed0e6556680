using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>
/// The CUDA backend: every op runs kernels/*.cu on an <see cref="IGpuDevice"/> — a real GPU through the
/// driver, or the emulated device in CI — with GEMMs on cuBLASLt (reference GEMM when emulated). Shapes and
/// dtypes are validated by the same <see cref="OpChecks"/> as the CPU backend. Ops are split per family.
/// </summary>
public sealed partial class CudaBackend(IGpuDevice device, bool ownsDevice = true) : Runtime.Backend, IGraphCapture, ICachedMemory
{
    private readonly BadValueRecord _badValues = new(device);
    private CaptureArena? _arena;
    private readonly DevicePool _pool = new(device);

    public IGpuDevice Device { get; } = device;

    public override string Name => $"cuda ({Device.Name})";

    /// <summary>The caching allocator's figures: bytes lent to tensors now and at most, cached for reuse, taken from the device.</summary>
    public MemoryStatistics Memory => _pool.Statistics;

    /// <summary>Gives the cached (free) device memory back to the device, for other processes or a larger model.</summary>
    public void ReleaseCachedMemory() => _pool.ReleaseCached();

    public long AvailableBytes => Device.FreeMemoryBytes + _pool.Statistics.CachedBytes;

    public string MemoryName => "GPU memory";

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
        _pool.Dispose();
        if (ownsDevice)
        {
            Device.Dispose();
        }
    }

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

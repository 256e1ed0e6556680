using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

/// <summary>
/// The CUDA backend: every op runs kernels/*.cu on an <see cref="IGpuDevice"/> — a real GPU through the
/// driver, or the emulated device in CI — with GEMMs on cuBLASLt (reference GEMM when emulated). Shapes and
/// dtypes are validated by the same <see cref="OpChecks"/> as the CPU backend. Ops are split per family.
/// </summary>
public sealed partial class CudaBackend(IGpuDevice device, bool ownsDevice = true) : IBackend
{
    private List<Tensor>? _captured;

    public IGpuDevice Device { get; } = device;

    public string Name => $"cuda ({Device.Name})";

    public Tensor Allocate(Shape shape, DType dtype)
    {
        Tensor t = AllocateUninitialized(shape, dtype);
        Device.Fill(Buffer(t), 0);
        return t;
    }

    public Tensor FromHost(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        long bytes = checked(shape.ElementCount * dtype.SizeInBytes());
        if (data.Length != bytes)
        {
            throw new ArgumentException($"{data.Length} bytes given for a {shape} {dtype} tensor of {bytes} bytes");
        }

        Tensor t = AllocateUninitialized(shape, dtype);
        Device.CopyToDevice(Buffer(t), data);
        return t;
    }

    public void CopyToHost(Tensor tensor, Span<byte> destination)
    {
        OpChecks.SameBackend(this, tensor);
        if (destination.Length < tensor.SizeInBytes)
        {
            throw new ArgumentException($"destination of {destination.Length} bytes is smaller than {tensor}");
        }

        Device.CopyToHost(Buffer(tensor), destination[..checked((int)tensor.SizeInBytes)], tensor.ByteOffset);
    }

    /// <summary>Overwrites an existing tensor (a graph's input, say) with host bytes of its size and dtype.</summary>
    public void CopyFromHost(Tensor destination, ReadOnlySpan<byte> data)
    {
        OpChecks.SameBackend(this, destination);
        if (data.Length != destination.SizeInBytes)
        {
            throw new ArgumentException($"{data.Length} bytes given for {destination} of {destination.SizeInBytes} bytes");
        }

        Device.CopyToDevice(Buffer(destination), data, destination.ByteOffset);
    }

    /// <summary>
    /// Records the ops <paramref name="step"/> runs (one denoising step, say) into a graph instead of running them.
    /// Every tensor allocated inside — outputs, intermediates, op temporaries — is allocated once, at capture, and
    /// belongs to the graph: replays read the current contents of the inputs and rewrite those same tensors, and
    /// disposing the graph frees them (so they are not freed while the graph still uses them).
    /// </summary>
    public DeviceGraph Capture(Action step)
    {
        if (_captured is not null)
        {
            throw new InvalidOperationException("a capture is already in progress on this backend");
        }

        _captured = [];
        try
        {
            return new GraphWithTensors(Device.Capture(step), _captured);
        }
        catch
        {
            _captured.ForEach(t => t.Dispose());
            throw;
        }
        finally
        {
            _captured = null;
        }
    }

    public void Dispose()
    {
        if (ownsDevice)
        {
            Device.Dispose();
        }
    }

    /// <summary>Gives back an op's temporary tensor: freed at once, unless a capture owns it (its graph replays still use it).</summary>
    private void ReleaseScratch(Tensor? scratch)
    {
        if (_captured is null)
        {
            scratch?.Dispose();
        }
    }

    private Tensor AllocateUninitialized(Shape shape, DType dtype)
    {
        var t = new Tensor(new CudaStorage(this, Device.Allocate(checked(shape.ElementCount * dtype.SizeInBytes()))), shape, dtype);
        _captured?.Add(t);
        return t;
    }

    private static DeviceBuffer Buffer(Tensor t) => ((CudaStorage)t.Storage).Buffer;

    /// <summary>The device address of the tensor's first element (views included).</summary>
    private IntPtr Address(Tensor t)
    {
        OpChecks.SameBackend(this, t);
        return Buffer(t).Address + (nint)t.ByteOffset;
    }

    internal IntPtr AddressOrNull(Tensor? t) => t is null ? IntPtr.Zero : Address(t);

    private void LaunchElementwise(string entry, long n, KernelArgs args)
    {
        if (n == 0)
        {
            return;
        }

        (Dim3 grid, Dim3 block) = Launchers.Elementwise(n);
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

    /// <summary>A captured graph that owns the tensors its ops allocated during capture.</summary>
    private sealed class GraphWithTensors(DeviceGraph graph, List<Tensor> tensors) : DeviceGraph
    {
        public override int NodeCount => graph.NodeCount;

        public override void Replay() => graph.Replay();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                graph.Dispose();
                tensors.ForEach(t => t.Dispose());
            }
        }
    }
}

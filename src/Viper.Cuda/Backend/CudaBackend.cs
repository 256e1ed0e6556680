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
    private List<Tensor>? _captureScratch;

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
    /// Tensors allocated inside are allocated once, at capture, and every replay reads the current contents of its
    /// inputs and rewrites those same outputs.
    /// </summary>
    public DeviceGraph Capture(Action step)
    {
        if (_captureScratch is not null)
        {
            throw new InvalidOperationException("a capture is already in progress on this backend");
        }

        _captureScratch = [];
        try
        {
            return new GraphWithScratch(Device.Capture(step), _captureScratch);
        }
        catch
        {
            _captureScratch.ForEach(t => t.Dispose());
            throw;
        }
        finally
        {
            _captureScratch = null;
        }
    }

    public void Dispose()
    {
        if (ownsDevice)
        {
            Device.Dispose();
        }
    }

    /// <summary>
    /// Gives back an op's temporary tensor: freed at once, or, while capturing, kept with the graph, whose
    /// replays still read and write it.
    /// </summary>
    private void ReleaseScratch(Tensor? scratch)
    {
        if (scratch is null)
        {
            return;
        }

        if (_captureScratch is not null)
        {
            _captureScratch.Add(scratch);
        }
        else
        {
            scratch.Dispose();
        }
    }

    private Tensor AllocateUninitialized(Shape shape, DType dtype) =>
        new(new CudaStorage(this, Device.Allocate(checked(shape.ElementCount * dtype.SizeInBytes()))), shape, dtype);

    private static DeviceBuffer Buffer(Tensor t) => ((CudaStorage)t.Storage).Buffer;

    /// <summary>The device address of the tensor's first element (views included).</summary>
    private IntPtr Address(Tensor t)
    {
        OpChecks.SameBackend(this, t);
        return Buffer(t).Address + (nint)t.ByteOffset;
    }

    private IntPtr AddressOrNull(Tensor? t) => t is null ? IntPtr.Zero : Address(t);

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

    /// <summary>Copies <paramref name="rows"/> runs of <paramref name="bytes"/> between pitched layouts (concat, split, KV cache).</summary>
    private void CopyRows(IntPtr source, long sourcePitch, IntPtr destination, long destinationPitch, long rows, long bytes) =>
        LaunchElementwise("copy_rows", rows * bytes,
            new KernelArgs().Add(source).Add(sourcePitch).Add(destination).Add(destinationPitch).Add(rows).Add(bytes));

    /// <summary>A captured graph that owns the temporaries its ops allocated during capture.</summary>
    private sealed class GraphWithScratch(DeviceGraph graph, List<Tensor> scratch) : DeviceGraph
    {
        public override int NodeCount => graph.NodeCount;

        public override void Replay() => graph.Replay();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                graph.Dispose();
                scratch.ForEach(t => t.Dispose());
            }
        }
    }
}

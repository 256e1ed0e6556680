namespace Viper.Runtime;

/// <summary>
/// The one place ops are validated. Each public op checks its arguments — the tensors belong to this backend, shapes,
/// dtypes, options, through <see cref="OpChecks"/> — and only then calls the backend's <c>…Core</c> method, so a backend
/// cannot forget a check, every backend rejects bad arguments with the same message, and no check is written twice.
/// Checks look at shapes, dtypes and host values only, never at device memory (values inside tensors are flagged by
/// the kernels, see <see cref="TensorValueException"/>). Optional capabilities are separate interfaces
/// (<see cref="IGraphCapture"/>). Ops are split over partial files per family, as the backends are.
/// </summary>
public abstract partial class Backend : IBackend
{
    public abstract string Name { get; }

    public abstract Tensor Allocate(Shape shape, DType dtype);

    public Tensor FromHost(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        OpChecks.HostBytes(data.Length, shape, dtype);
        return FromHostCore(data, shape, dtype);
    }

    public void CopyToHost(Tensor tensor, Span<byte> destination)
    {
        Own(tensor);
        if (destination.Length < tensor.SizeInBytes)
        {
            throw new ArgumentException($"destination of {destination.Length} bytes is smaller than {tensor}");
        }

        CopyToHostCore(tensor, destination[..checked((int)tensor.SizeInBytes)]);
    }

    public void CopyInto(Tensor source, Tensor destination)
    {
        Own(source, destination);
        OpChecks.CopyInto(source, destination);
        CopyIntoCore(source, destination);
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);

    /// <summary>Throws unless every given tensor (nulls skipped) lives on this backend.</summary>
    protected void Own(params Tensor?[] tensors) => OpChecks.SameBackend(this, tensors);

    /// <summary>data has exactly the bytes of a (shape, dtype) tensor.</summary>
    protected abstract Tensor FromHostCore(ReadOnlySpan<byte> data, Shape shape, DType dtype);

    /// <summary>destination is exactly the tensor's size.</summary>
    protected abstract void CopyToHostCore(Tensor tensor, Span<byte> destination);

    protected abstract void CopyIntoCore(Tensor source, Tensor destination);
}

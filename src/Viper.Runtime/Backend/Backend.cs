namespace Viper.Runtime;

/// <summary>
/// The one place ops are validated. Each public op checks its arguments — the tensors belong to this backend, shapes,
/// dtypes, options, through <see cref="OpChecks"/> — and only then calls the backend's <c>…Core</c> method, so a backend
/// cannot forget a check, every backend rejects bad arguments with the same message, and no check is written twice.
/// Checks look at shapes, dtypes and host values only, never at device memory (values inside tensors are flagged by
/// the kernels, see <see cref="TensorValueException"/>). Optional capabilities are separate interfaces
/// (<see cref="IGraphCapture"/>). Ops are split over partial files per family, as the backends are.
/// <para>
/// Every op also keeps its tensor arguments reachable until its <c>…Core</c> call has returned (<see cref="Kept{T}"/>).
/// A caller's temporary — <c>ops.Add(ops.FromHost(…), b)</c> — is referenced by nothing but the call once the backend
/// has read its address, so without this a collection during a BLAS call, a copy or a kernel could run the storage's
/// finalizer and free or re-lend the memory the native code is reading.
/// </para>
/// </summary>
public abstract partial class Backend : IBackend, IDecodingOps, IDiffusionOps, ITrainingOps
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
        KeepAlive(tensor);
    }

    public void CopyInto(Tensor source, Tensor destination)
    {
        Own(source, destination);
        OpChecks.CopyInto(source, destination);
        CopyIntoCore(source, destination);
        KeepAlive(source, destination);
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);

    /// <summary>Returns <paramref name="result"/> once the …Core call that made it has returned, keeping its arguments alive until then.</summary>
    protected static T Kept<T>(T result, params ReadOnlySpan<object?> arguments)
    {
        KeepAlive(arguments);
        return result;
    }

    /// <summary>Marks the point up to which a void op's arguments (tensors, or lists and options holding them) must stay reachable.</summary>
    protected static void KeepAlive(params ReadOnlySpan<object?> arguments)
    {
        foreach (object? argument in arguments)
        {
            GC.KeepAlive(argument);
        }
    }

    /// <summary>Throws unless every given tensor (nulls skipped) lives on this backend.</summary>
    protected void Own(params Tensor?[] tensors) => OpChecks.SameBackend(this, tensors);

    /// <summary>data has exactly the bytes of a (shape, dtype) tensor.</summary>
    protected abstract Tensor FromHostCore(ReadOnlySpan<byte> data, Shape shape, DType dtype);

    /// <summary>destination is exactly the tensor's size.</summary>
    protected abstract void CopyToHostCore(Tensor tensor, Span<byte> destination);

    protected abstract void CopyIntoCore(Tensor source, Tensor destination);
}

namespace Viper.Runtime;

/// <summary>
/// A dense, row-major tensor: shape + dtype + a window of backend storage. There are no hidden
/// strides: <see cref="Reshape"/> and <see cref="Slice"/> are views over contiguous memory, and
/// anything that would need strides (permute, transpose) is an op that writes a new tensor.
/// A view shares its base's storage and must not outlive it; disposing a view frees nothing.
/// </summary>
public sealed class Tensor : IDisposable
{
    private bool _ownsStorage;

    public Tensor(TensorStorage storage, Shape shape, DType dtype, long byteOffset = 0, bool ownsStorage = true)
    {
        long bytes = dtype.BytesFor(shape);
        if (byteOffset < 0 || byteOffset + bytes > storage.SizeInBytes)
        {
            throw new ArgumentException(
                $"tensor {shape} {dtype} at byte {byteOffset} does not fit its storage of {storage.SizeInBytes} bytes");
        }

        Storage = storage;
        Shape = shape;
        DType = dtype;
        ByteOffset = byteOffset;
        _ownsStorage = ownsStorage;
    }

    public TensorStorage Storage { get; }

    public IBackend Backend => Storage.Backend;

    public Shape Shape { get; }

    public DType DType { get; }

    public long ByteOffset { get; }

    public long ElementCount => Shape.ElementCount;

    public long SizeInBytes => DType.BytesFor(Shape);

    public bool IsView => !_ownsStorage;

    /// <summary>A view with another shape of the same element count.</summary>
    public Tensor Reshape(params int[] dims)
    {
        var shape = new Shape(ResolveInferredDim(dims));
        if (shape.ElementCount != ElementCount)
        {
            throw new ArgumentException($"cannot reshape {Shape} ({ElementCount} elements) to {shape}");
        }

        return new Tensor(Storage, shape, DType, ByteOffset, ownsStorage: false);
    }

    /// <summary>
    /// The same memory under another shape, taking over this tensor's ownership of its storage: afterwards this tensor
    /// is a view, and the result is what must be disposed. For reshaping an op's result without a copy or a leak.
    /// </summary>
    public Tensor ReshapeInto(params int[] dims)
    {
        Tensor reshaped = Reshape(dims);
        var owner = new Tensor(Storage, reshaped.Shape, DType, ByteOffset, _ownsStorage);
        _ownsStorage = false;
        return owner;
    }

    /// <summary>A view of rows [start, start+length) along the outermost axis.</summary>
    public Tensor Slice(int start, int length)
    {
        if (Shape.Rank == 0)
        {
            throw new InvalidOperationException("cannot slice a scalar");
        }

        if (start < 0 || length < 0 || start + length > Shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"slice [{start}, {start + length}) of axis 0 of {Shape}");
        }

        long rowBytes = DType.BytesFor(Shape.Product(1, Shape.Rank));
        return new Tensor(Storage, Shape.With(0, length), DType, ByteOffset + start * rowBytes, ownsStorage: false);
    }

    public void Dispose()
    {
        if (_ownsStorage)
        {
            Storage.Dispose();
        }
    }

    public override string ToString() => $"Tensor{Shape} {DType} on {Backend.Name}";

    private int[] ResolveInferredDim(int[] dims)
    {
        int inferred = Array.IndexOf(dims, -1);
        if (inferred < 0)
        {
            return dims;
        }

        long known = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (i != inferred)
            {
                known *= dims[i];
            }
        }

        int[] resolved = (int[])dims.Clone();
        resolved[inferred] = known == 0 ? 0 : (int)(ElementCount / known);
        return resolved;
    }
}

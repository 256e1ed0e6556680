using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Parameters read from a safetensors checkpoint; a missing or mis-shaped tensor is a <see cref="WeightsException"/> naming it.
/// Before each tensor the load may be cancelled; after each, the bytes read so far are reported against the
/// checkpoint's total (a model may leave some stored tensors unread, so the last report can stay below it).
/// </summary>
public sealed class CheckpointWeights(WeightStore store, IBackend backend, DType dtype,
    IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default, DType? linearWeights = null)
    : WeightSource(backend, dtype, linearWeights)
{
    private readonly long _total = store.Entries.Sum(e => e.ByteLength);
    private long _read;

    public WeightStore Store { get; } = store;

    protected internal override Tensor Read(string name, Shape shape) => Counted(name, () => Store.Load(Backend, name, shape, DType));

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) =>
        Counted(name, () => Store.LoadConvWeight(Backend, name, cout, cin, kh, kw, DType));

    /// <summary>A weight the checkpoint stores in a format loads as stored (asking for another format is an error); others as the base does.</summary>
    protected internal override LinearWeight ReadLinear(string name, Shape shape)
    {
        if (!Store.Contains(name) || QuantizedCheckpoint.StoredFormat(Store, name) is not { } stored)
        {
            if (LinearWeights is not { } format || format == DType || !Store.Entry(name).DType.IsFloat())
            {
                return base.ReadLinear(name, shape);
            }

            // Quantized straight from the file's bytes, a few slabs of rows at a time (the shape checked first, by name).
            _ = Store.Require(name, shape, out DType storedAs);
            long rowBytes = (long)shape[1] * storedAs.SizeInBytes();
            return Counted(name, () => LinearWeightFormats.Convert(Backend, shape, storedAs, format,
                (first, raw) => Store.Bytes(name).Slice(checked((int)(first * rowBytes)), raw.Length).CopyTo(raw)));
        }

        if (LinearWeights is { } asked && asked != stored)
        {
            throw new WeightsException($"{Store.Source}: '{name}' is stored as {stored.Label()}; it loads as stored, not as {asked.Label()} (re-quantizing a quantized weight loses accuracy)");
        }

        (Tensor weight, Tensor? scale) = Counted(name, () => QuantizedCheckpoint.Load(Store, Backend, name, shape, stored));
        return new LinearWeight(weight, scale);
    }

    private T Counted<T>(string name, Func<T> read)
    {
        cancellationToken.ThrowIfCancellationRequested();
        T t = read();
        _read += Store.Entry(name).ByteLength;
        progress?.Report(new LoadProgress(_read, _total));
        return t;
    }
}

/// <summary>Checkpoint bytes read so far, of <see cref="TotalBytes"/> stored.</summary>
public readonly record struct LoadProgress(long BytesRead, long TotalBytes);

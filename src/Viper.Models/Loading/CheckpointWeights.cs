using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Parameters read from a safetensors checkpoint; a missing or mis-shaped tensor is a <see cref="WeightsException"/> naming it.
/// Before each tensor the load may be cancelled; after each, the bytes read so far are reported against the
/// checkpoint's total (a model may leave some stored tensors unread, so the last report can stay below it).
/// </summary>
public sealed class CheckpointWeights(WeightStore store, IBackend backend, DType dtype,
    IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default) : WeightSource(backend, dtype)
{
    private readonly long _total = store.Entries.Sum(e => e.ByteLength);
    private long _read;

    public WeightStore Store { get; } = store;

    protected internal override Tensor Read(string name, Shape shape) => Counted(name, () => Store.Load(Backend, name, shape, DType));

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) =>
        Counted(name, () => Store.LoadConvWeight(Backend, name, cout, cin, kh, kw, DType));

    private Tensor Counted(string name, Func<Tensor> read)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Tensor t = read();
        _read += Store.Entry(name).ByteLength;
        progress?.Report(new LoadProgress(_read, _total));
        return t;
    }
}

/// <summary>Checkpoint bytes read so far, of <see cref="TotalBytes"/> stored.</summary>
public readonly record struct LoadProgress(long BytesRead, long TotalBytes);

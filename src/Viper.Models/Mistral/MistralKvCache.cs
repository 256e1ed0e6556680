using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>
/// Preallocated keys and values of every layer, (B, capacity, Hkv·D) each, in the model's dtype. <see cref="Length"/>
/// positions are filled; a forward appends after them. <see cref="Truncate"/> rewinds to a shared prefix, so several
/// continuations reuse one prefill.
/// </summary>
public sealed class MistralKvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public MistralKvCache(IBackend backend, MistralConfig config, int batch, int capacity, DType dtype)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        (Batch, Capacity) = (batch, capacity);
        var shape = new Shape(batch, capacity, config.NumKeyValueHeads * config.HeadDim);
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int layer = 0; layer < _keys.Length; layer++)
        {
            _keys[layer] = backend.Allocate(shape, dtype);
            _values[layer] = backend.Allocate(shape, dtype);
        }
    }

    public int Batch { get; }

    public int Capacity { get; }

    /// <summary>Positions filled.</summary>
    public int Length { get; private set; }

    public long SizeInBytes => _keys.Sum(k => k.SizeInBytes) * 2;

    internal Tensor Keys(int layer) => _keys[layer];

    internal Tensor Values(int layer) => _values[layer];

    /// <summary>Forgets every position from <paramref name="length"/> on (the next forward writes there).</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        Length = length;
    }

    /// <summary>Counts <paramref name="tokens"/> more positions as filled (a forward, or a replayed decode step, wrote them).</summary>
    public void Advance(int tokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tokens, Capacity - Length);
        Length += tokens;
    }

    public void Dispose()
    {
        foreach (Tensor t in _keys.Concat(_values))
        {
            t.Dispose();
        }
    }
}

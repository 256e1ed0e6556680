using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPEncoder (<c>encoder</c>): the stack of layers.</summary>
public sealed class ClipEncoder : Module
{
    private readonly ClipEncoderLayer[] _layers;

    public ClipEncoder(WeightScope scope, int layers, int hidden, int intermediate, int heads, Activation activation, float eps, bool causal) =>
        _layers = Enumerable.Range(0, layers)
            .Select(i => Own(new ClipEncoderLayer(scope["layers"][i], hidden, intermediate, heads, activation, eps, causal))).ToArray();

    public int LayerCount => _layers.Length;

    /// <summary>
    /// Runs every layer on <paramref name="embeddings"/> (taken over: released unless kept). Returns the last layer's
    /// output and the states <paramref name="keep"/> asks for, by index (the last may be among them, the same tensor);
    /// the caller owns both. A <paramref name="keyMask"/> (B, T), 0 = padding, hides positions from every layer's attention
    /// (SigLIP's patch mask for images smaller than the padded batch).
    /// </summary>
    public EncoderStates Forward(IBackend b, Tensor embeddings, HiddenStates keep, CancellationToken cancellationToken = default,
        Tensor? keyMask = null)
    {
        int count = _layers.Length + 1;
        keep.Validate(count);
        var kept = new Dictionary<int, Tensor>();
        Tensor current = embeddings;
        try
        {
            for (int i = 0; i < _layers.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Tensor next = _layers[i].Forward(b, current, keyMask);
                if (keep.Keeps(i, count))
                {
                    kept[i] = current;
                }
                else
                {
                    current.Dispose();
                }

                current = next;
            }
        }
        catch
        {
            current.Dispose();
            foreach (Tensor t in kept.Values)
            {
                t.Dispose();
            }

            throw;
        }

        if (keep.Keeps(_layers.Length, count))
        {
            kept[_layers.Length] = current;
        }

        return new EncoderStates(current, kept, count);
    }

    /// <summary>Every layer on <paramref name="embeddings"/> (the caller's) keeping each layer's activations; returns the last output.</summary>
    public Tensor ForwardForTraining(IBackend b, Tensor embeddings, out Saved saved, CancellationToken cancellationToken = default)
    {
        var layers = new List<ClipEncoderLayer.Saved>(_layers.Length);
        saved = new Saved(layers);
        Tensor current = embeddings;
        foreach (ClipEncoderLayer layer in _layers)
        {
            cancellationToken.ThrowIfCancellationRequested();
            current = layer.ForwardForTraining(b, current, out ClipEncoderLayer.Saved s);
            layers.Add(s);
        }

        return current;
    }

    /// <summary>The layers' backward passes from the last to the first; returns the gradient of the embeddings.</summary>
    public Tensor Backward(IBackend b, Saved saved, Tensor dOut, Gradients grads, CancellationToken cancellationToken = default)
    {
        Tensor gradient = dOut;
        for (int i = _layers.Length - 1; i >= 0; i--)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Tensor next = _layers[i].Backward(b, saved.Layers[i], gradient, grads);
            if (!ReferenceEquals(gradient, dOut))
            {
                gradient.Dispose();
            }

            gradient = next;
        }

        return gradient;
    }

    /// <summary>
    /// A training forward's activations, layer by layer. Owns each layer's saved state and the outputs that fed the next
    /// layer (layer i + 1's input); the last output and the embeddings belong to the caller.
    /// </summary>
    public sealed class Saved(List<ClipEncoderLayer.Saved> layers) : IDisposable
    {
        public IReadOnlyList<ClipEncoderLayer.Saved> Layers => layers;

        public void Dispose()
        {
            for (int i = 0; i < layers.Count; i++)
            {
                layers[i].Dispose();
                if (i > 0)
                {
                    layers[i].X.Dispose(); // the output of layer i − 1
                }
            }

            layers.Clear();
        }
    }
}

/// <summary>The encoder's last state and the kept ones (<see cref="HiddenStates"/> numbering); <see cref="Dispose"/> releases each once.</summary>
public sealed class EncoderStates(Tensor last, IReadOnlyDictionary<int, Tensor> kept, int count) : IDisposable
{
    public Tensor Last { get; } = last;

    public IReadOnlyDictionary<int, Tensor> Kept { get; } = kept;

    /// <summary>How many states the encoder has: the embeddings plus one per layer.</summary>
    public int Count { get; } = count;

    /// <summary>hidden_states[index] (negative from the end), when it was kept.</summary>
    public Tensor this[int index]
    {
        get
        {
            int at = index < 0 ? Count + index : index;
            return Kept.TryGetValue(at, out Tensor? t) ? t
                : throw new ArgumentOutOfRangeException(nameof(index), $"hidden_states[{index}] was not kept: ask for it with HiddenStates.Only({index})");
        }
    }

    public void Dispose()
    {
        foreach (Tensor t in Kept.Values.Append(Last).Distinct())
        {
            t.Dispose();
        }
    }
}

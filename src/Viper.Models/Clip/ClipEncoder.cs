using Viper.Models.Layers;
using Viper.Models.Loading;
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
    /// transformers' hidden_states: [embeddings, after layer 1, …, after the last layer] — the input first, so the
    /// list has <see cref="LayerCount"/> + 1 entries and the caller owns all but the input.
    /// </summary>
    public List<Tensor> Forward(IBackend b, Tensor embeddings, CancellationToken cancellationToken = default)
    {
        var states = new List<Tensor>(_layers.Length + 1) { embeddings };
        try
        {
            foreach (ClipEncoderLayer layer in _layers)
            {
                cancellationToken.ThrowIfCancellationRequested();
                states.Add(layer.Forward(b, states[^1]));
            }
        }
        catch
        {
            states.Skip(1).ToList().ForEach(s => s.Dispose());
            throw;
        }

        return states;
    }
}

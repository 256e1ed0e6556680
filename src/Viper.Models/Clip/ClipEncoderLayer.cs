using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPEncoderLayer (<c>encoder.layers.N</c>): pre-norm attention and MLP, each with a residual.</summary>
public sealed class ClipEncoderLayer(WeightScope scope, int hidden, int intermediate, int heads, Activation activation, float eps, bool causal)
    : IDisposable
{
    private readonly LayerNorm _layerNorm1 = new(scope["layer_norm1"], hidden, eps);
    private readonly ClipAttention _selfAttn = new(scope["self_attn"], hidden, heads, causal);
    private readonly LayerNorm _layerNorm2 = new(scope["layer_norm2"], hidden, eps);
    private readonly ClipMlp _mlp = new(scope["mlp"], hidden, intermediate, activation);

    public Tensor Forward(IBackend b, Tensor x)
    {
        Tensor afterAttention;
        using (Tensor normed = _layerNorm1.Forward(b, x))
        using (Tensor attended = _selfAttn.Forward(b, normed))
        {
            afterAttention = b.Add(x, attended);
        }

        using (afterAttention)
        using (Tensor normed = _layerNorm2.Forward(b, afterAttention))
        using (Tensor mlp = _mlp.Forward(b, normed))
        {
            return b.Add(afterAttention, mlp);
        }
    }

    public void Dispose()
    {
        _layerNorm1.Dispose();
        _selfAttn.Dispose();
        _layerNorm2.Dispose();
        _mlp.Dispose();
    }
}

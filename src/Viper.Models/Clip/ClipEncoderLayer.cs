using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPEncoderLayer (<c>encoder.layers.N</c>): pre-norm attention and MLP, each with a residual.</summary>
public sealed class ClipEncoderLayer : Module
{
    private readonly LayerNorm _layerNorm1;
    private readonly ClipAttention _selfAttn;
    private readonly LayerNorm _layerNorm2;
    private readonly ClipMlp _mlp;

    public ClipEncoderLayer(WeightScope scope, int hidden, int intermediate, int heads, Activation activation, float eps, bool causal)
    {
        _layerNorm1 = Own(new LayerNorm(scope["layer_norm1"], hidden, eps));
        _selfAttn = Own(new ClipAttention(scope["self_attn"], hidden, heads, causal));
        _layerNorm2 = Own(new LayerNorm(scope["layer_norm2"], hidden, eps));
        _mlp = Own(new ClipMlp(scope["mlp"], hidden, intermediate, activation));
    }

    public Tensor Forward(IBackend b, Tensor x, Tensor? keyMask = null)
    {
        Tensor afterAttention;
        using (Tensor normed = _layerNorm1.Forward(b, x))
        using (Tensor attended = _selfAttn.Forward(b, normed, keyMask))
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
}

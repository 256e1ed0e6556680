using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPAttention (<c>self_attn</c>): q/k/v/out projections with biases, scale head_dim^-0.5.</summary>
public sealed class ClipAttention : Module
{
    private readonly Linear _q, _k, _v, _out;
    private readonly AttentionOptions _options;

    public ClipAttention(WeightScope scope, int hidden, int heads, bool causal)
    {
        _q = Own(new Linear(scope["q_proj"], hidden, hidden));
        _k = Own(new Linear(scope["k_proj"], hidden, hidden));
        _v = Own(new Linear(scope["v_proj"], hidden, hidden));
        _out = Own(new Linear(scope["out_proj"], hidden, hidden));
        _options = new AttentionOptions(heads, heads, hidden / heads) { Causal = causal };
    }

    /// <summary>x (B, T, C) → (B, T, C); keys whose <paramref name="keyMask"/> (B, T) entry is 0 are not attended to.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor? keyMask = null)
    {
        using Tensor q = _q.Forward(b, x);
        using Tensor k = _k.Forward(b, x);
        using Tensor v = _v.Forward(b, x);
        using Tensor attended = b.Attention(q, k, v, _options with { KeyMask = keyMask });
        return _out.Forward(b, attended);
    }
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPAttention (<c>self_attn</c>): q/k/v/out projections with biases, scale head_dim^-0.5.</summary>
public sealed class ClipAttention : IDisposable
{
    private readonly Tensor _qWeight, _qBias, _kWeight, _kBias, _vWeight, _vBias, _outWeight, _outBias;
    private readonly AttentionOptions _options;

    public ClipAttention(WeightScope scope, int hidden, int heads, bool causal)
    {
        (_qWeight, _qBias) = (scope["q_proj"].Tensor("weight", hidden, hidden), scope["q_proj"].Tensor("bias", hidden));
        (_kWeight, _kBias) = (scope["k_proj"].Tensor("weight", hidden, hidden), scope["k_proj"].Tensor("bias", hidden));
        (_vWeight, _vBias) = (scope["v_proj"].Tensor("weight", hidden, hidden), scope["v_proj"].Tensor("bias", hidden));
        (_outWeight, _outBias) = (scope["out_proj"].Tensor("weight", hidden, hidden), scope["out_proj"].Tensor("bias", hidden));
        _options = new AttentionOptions(heads, heads, hidden / heads) { Causal = causal };
    }

    /// <summary>x (B, T, C) → (B, T, C).</summary>
    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor q = b.Linear(x, _qWeight, _qBias);
        using Tensor k = b.Linear(x, _kWeight, _kBias);
        using Tensor v = b.Linear(x, _vWeight, _vBias);
        using Tensor attended = b.Attention(q, k, v, _options);
        return b.Linear(attended, _outWeight, _outBias);
    }

    public void Dispose()
    {
        foreach (Tensor t in new[] { _qWeight, _qBias, _kWeight, _kBias, _vWeight, _vBias, _outWeight, _outBias })
        {
            t.Dispose();
        }
    }
}

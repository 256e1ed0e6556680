using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2PerceiverAttention (<c>self_attn</c>): queries from the latents, keys and values from the context
/// followed by the latents, grouped-query heads, no biases, non-causal; padding patches of the context are masked out.
/// </summary>
public sealed class Idefics2PerceiverAttention : Module
{
    private readonly Linear _q, _k, _v, _o;
    private readonly AttentionOptions _options;

    public Idefics2PerceiverAttention(WeightScope scope, int hidden, Idefics2PerceiverConfig config)
    {
        int d = config.ResamplerHeadDim;
        _q = Own(new Linear(scope["q_proj"], hidden, config.ResamplerNHeads * d, bias: false));
        _k = Own(new Linear(scope["k_proj"], hidden, config.NumKeyValueHeads * d, bias: false));
        _v = Own(new Linear(scope["v_proj"], hidden, config.NumKeyValueHeads * d, bias: false));
        _o = Own(new Linear(scope["o_proj"], config.ResamplerNHeads * d, hidden, bias: false));
        _options = new AttentionOptions(config.ResamplerNHeads, config.NumKeyValueHeads, d);
    }

    /// <summary>latents (n, L, C), context (n, P, C), keyMask I32 (n, P + L) → (n, L, C).</summary>
    public Tensor Forward(IBackend b, Tensor latents, Tensor context, Tensor keyMask)
    {
        using Tensor both = b.Concat([context, latents], 1);
        using Tensor q = _q.Forward(b, latents);
        using Tensor k = _k.Forward(b, both);
        using Tensor v = _v.Forward(b, both);
        using Tensor attended = b.Attention(q, k, v, _options with { KeyMask = keyMask });
        return _o.Forward(b, attended);
    }
}

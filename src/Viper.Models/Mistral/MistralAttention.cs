using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>
/// MistralAttention (<c>self_attn</c>): q/k/v/o projections without biases, rotary positions on q and k, grouped-query
/// attention (num_key_value_heads), the new keys and values written into the layer's cache.
/// </summary>
public sealed class MistralAttention : Module
{
    private readonly Linear _q, _k, _v, _o;
    private readonly MistralConfig _config;

    public MistralAttention(WeightScope scope, MistralConfig config)
    {
        int kv = config.NumKeyValueHeads * config.HeadDim;
        _q = Own(new Linear(scope["q_proj"], config.HiddenSize, config.HiddenSize, bias: false));
        _k = Own(new Linear(scope["k_proj"], config.HiddenSize, kv, bias: false));
        _v = Own(new Linear(scope["v_proj"], config.HiddenSize, kv, bias: false));
        _o = Own(new Linear(scope["o_proj"], config.HiddenSize, config.HiddenSize, bias: false));
        _config = config;
    }

    /// <summary>x (B, T, C) → (B, T, C); keys and values of the T new positions land in the cache at step.Start.</summary>
    public Tensor Forward(IBackend b, Tensor x, MistralStep step, Tensor cacheKeys, Tensor cacheValues)
    {
        int d = _config.HeadDim;
        using Tensor q = Projected(b, _q, x, step, rotate: true);
        using Tensor k = Projected(b, _k, x, step, rotate: true);
        using Tensor v = Projected(b, _v, x, step, rotate: false);
        b.Decoding().KvCacheWrite(cacheKeys, k, step.CachePositions); // positions in device memory: a recorded decode step replays anywhere
        b.Decoding().KvCacheWrite(cacheValues, v, step.CachePositions);
        var options = new AttentionOptions(_config.NumAttentionHeads, _config.NumKeyValueHeads, d)
        {
            Causal = true, KeyLengths = step.KeyLengths, Bias = step.WindowBias,
        };
        using Tensor attended = Attend(b, q, k, v, cacheKeys, cacheValues, step, options);
        return _o.Forward(b, attended);
    }

    private Tensor Projected(IBackend b, Linear projection, Tensor x, MistralStep step, bool rotate)
    {
        Tensor y = projection.Forward(b, x);
        if (!rotate)
        {
            return y;
        }

        using (y)
        {
            return b.Decoding().Rotary(y, step.Positions, _config.HeadDim, _config.RopeTheta);
        }
    }

    // A first forward attends over its own keys; a one-token decode over the whole cache cut at the key lengths (no
    // copy); a forward after a cached prefix over the filled part of the cache (causal masking aligns to its end).
    private static Tensor Attend(IBackend b, Tensor q, Tensor k, Tensor v, Tensor cacheKeys, Tensor cacheValues, MistralStep step,
        AttentionOptions options)
    {
        if (step.Start == 0)
        {
            return b.Attention(q, k, v, options);
        }

        if (step.KeyLengths is not null)
        {
            return b.Attention(q, cacheKeys, cacheValues, options);
        }

        using Tensor keys = b.Narrow(cacheKeys, 1, 0, step.KeyCount);
        using Tensor values = b.Narrow(cacheValues, 1, 0, step.KeyCount);
        return b.Attention(q, keys, values, options);
    }
}

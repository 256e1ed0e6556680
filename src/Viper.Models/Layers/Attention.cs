using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>
/// diffusers Attention (attention_processor.py) as the UNet and VAE use it: <c>to_q</c>, <c>to_k</c>, <c>to_v</c>
/// (biases only where <paramref name="qkvBias"/>, as in the VAE) and <c>to_out.0</c> with bias; keys and values come
/// from the context when given (cross-attention), else from x.
/// </summary>
public sealed class Attention : Module
{
    private readonly Linear _q, _k, _v, _out;
    private readonly AttentionOptions _options;

    public Attention(WeightScope scope, int queryDim, int contextDim, int heads, int headDim, bool qkvBias = false)
    {
        int inner = heads * headDim;
        _q = Own(new Linear(scope["to_q"], queryDim, inner, qkvBias));
        _k = Own(new Linear(scope["to_k"], contextDim, inner, qkvBias));
        _v = Own(new Linear(scope["to_v"], contextDim, inner, qkvBias));
        _out = Own(new Linear(scope["to_out"][0], inner, queryDim));
        _options = new AttentionOptions(heads, heads, headDim);
    }

    /// <summary>x (B, T, C), context (B, S, Cctx) or null → (B, T, C), plus <paramref name="residual"/> when given.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor? context = null, Tensor? residual = null)
    {
        Tensor source = context ?? x;
        using Tensor q = _q.Forward(b, x);
        using Tensor k = _k.Forward(b, source);
        using Tensor v = _v.Forward(b, source);
        using Tensor attended = b.Attention(q, k, v, _options);
        Tensor projected = _out.Forward(b, attended);
        if (residual is null)
        {
            return projected;
        }

        using (projected)
        {
            return b.Add(projected, residual);
        }
    }
}

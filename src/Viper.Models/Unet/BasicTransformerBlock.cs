using Viper.Models.Clip;
using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers BasicTransformerBlock (attention.py, layer norms, GEGLU): x += attn1(norm1(x)); x += attn2(norm2(x), context);
/// x += ff(norm3(x)).
/// </summary>
public sealed class BasicTransformerBlock : Module
{
    private const float Eps = 1e-5f;
    private readonly LayerNorm _norm1, _norm2, _norm3;
    private readonly Attention _attn1, _attn2;
    private readonly FeedForward _ff;

    public BasicTransformerBlock(WeightScope scope, int dim, int heads, int headDim, int contextDim)
    {
        _norm1 = Own(new LayerNorm(scope["norm1"], dim, Eps));
        _attn1 = Own(new Attention(scope["attn1"], dim, dim, heads, headDim));
        _norm2 = Own(new LayerNorm(scope["norm2"], dim, Eps));
        _attn2 = Own(new Attention(scope["attn2"], dim, contextDim, heads, headDim));
        _norm3 = Own(new LayerNorm(scope["norm3"], dim, Eps));
        _ff = Own(new FeedForward(scope["ff"], dim));
    }

    /// <summary>x (B, T, C), context (B, S, Cctx) → (B, T, C).</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor context)
    {
        Tensor afterSelf;
        using (Tensor n1 = _norm1.Forward(b, x))
        {
            afterSelf = _attn1.Forward(b, n1, residual: x);
        }

        Tensor afterCross;
        using (afterSelf)
        using (Tensor n2 = _norm2.Forward(b, afterSelf))
        {
            afterCross = _attn2.Forward(b, n2, context, residual: afterSelf);
        }

        using (afterCross)
        using (Tensor n3 = _norm3.Forward(b, afterCross))
        using (Tensor ff = _ff.Forward(b, n3))
        {
            return b.Add(ff, afterCross);
        }
    }
}

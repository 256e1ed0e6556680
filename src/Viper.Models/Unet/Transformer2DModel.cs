using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers Transformer2DModel for continuous inputs (transformer_2d.py): group norm (eps 1e-6), <c>proj_in</c> (a
/// linear layer when <c>use_linear_projection</c>, else a 1×1 conv — the same map on NHWC), the transformer blocks,
/// <c>proj_out</c>, plus the input.
/// </summary>
public sealed class Transformer2DModel : Module
{
    private readonly GroupNorm _norm;
    private readonly Linear? _projInLinear, _projOutLinear;
    private readonly Conv2d? _projInConv, _projOutConv;
    private readonly BasicTransformerBlock[] _blocks;

    public Transformer2DModel(WeightScope scope, int channels, int heads, int layers, int contextDim, int groups, bool linearProjection)
    {
        _norm = Own(new GroupNorm(scope["norm"], groups, channels, 1e-6f));
        if (linearProjection)
        {
            _projInLinear = Own(new Linear(scope["proj_in"], channels, channels));
        }
        else
        {
            _projInConv = Own(new Conv2d(scope["proj_in"], channels, channels, 1));
        }

        _blocks = Enumerable.Range(0, layers)
            .Select(i => Own(new BasicTransformerBlock(scope["transformer_blocks"][i], channels, heads, channels / heads, contextDim)))
            .ToArray();
        if (linearProjection)
        {
            _projOutLinear = Own(new Linear(scope["proj_out"], channels, channels));
        }
        else
        {
            _projOutConv = Own(new Conv2d(scope["proj_out"], channels, channels, 1));
        }
    }

    /// <summary>x (N, H, W, C), context (N, S, Cctx) → (N, H, W, C).</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor context)
    {
        (int n, int h, int w, int c) = (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
        Tensor hidden;
        using (Tensor normed = _norm.Forward(b, x))
        {
            hidden = _projInLinear is not null ? _projInLinear.Forward(b, normed) : _projInConv!.Forward(b, normed);
        }

        foreach (BasicTransformerBlock block in _blocks)
        {
            using Tensor tokens = hidden.Reshape(n, h * w, c);
            Tensor next = block.Forward(b, tokens, context).ReshapeInto(n, h, w, c);
            hidden.Dispose();
            hidden = next;
        }

        using (hidden)
        {
            return _projOutLinear is not null
                ? AddResidual(b, _projOutLinear.Forward(b, hidden), x)
                : _projOutConv!.Forward(b, hidden, residual: x);
        }
    }

    private static Tensor AddResidual(IBackend b, Tensor projected, Tensor residual)
    {
        using (projected)
        {
            return b.Add(projected, residual);
        }
    }
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>diffusers FeedForward with GEGLU (attention.py): <c>net.0.proj</c> (dim → 2·inner), GEGLU, <c>net.2</c> (inner → dim).</summary>
public sealed class FeedForward : Module
{
    private readonly Linear _proj;
    private readonly Linear _out;

    public FeedForward(WeightScope scope, int dim, int mult = 4)
    {
        _proj = Own(new Linear(scope["net"][0]["proj"], dim, dim * mult * 2));
        _out = Own(new Linear(scope["net"][2], dim * mult, dim));
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor projected = _proj.Forward(b, x);
        using Tensor gated = b.Geglu(projected);
        return _out.Forward(b, gated);
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>diffusers Upsample2D: nearest-neighbour 2× then <c>conv</c> (3×3, padding 1).</summary>
public sealed class Upsample2D : Module
{
    private readonly Conv2d _conv;

    public Upsample2D(WeightScope scope, int channels) => _conv = Own(new Conv2d(scope["conv"], channels, channels, 3));

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor upsampled = b.UpsampleNearest2x(x);
        return _conv.Forward(b, upsampled);
    }
}

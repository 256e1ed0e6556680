using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers Downsample2D with a conv (<c>conv</c>, 3×3, stride 2). The UNet pads 1 on every side; the VAE encoder
/// (padding=0) pads only bottom and right by one, as diffusers' F.pad(x, (0, 1, 0, 1)).
/// </summary>
public sealed class Downsample2D : Module
{
    private readonly Conv2d _conv;

    public Downsample2D(WeightScope scope, int channels, bool asymmetricPadding) =>
        _conv = Own(new Conv2d(scope["conv"], channels, channels, 3, stride: 2,
            padding: asymmetricPadding ? new Padding2d(0, 1, 0, 1) : Padding2d.Same(1)));

    public Tensor Forward(IBackend b, Tensor x) => _conv.Forward(b, x);
}

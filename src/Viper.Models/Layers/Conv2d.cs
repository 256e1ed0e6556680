using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>nn.Conv2d with bias on NHWC activations; the OIHW checkpoint weight is re-laid to OHWI at load.</summary>
public sealed class Conv2d : Module
{
    private readonly Tensor _weight;
    private readonly Tensor _bias;
    private readonly Conv2dOptions _options;

    public Conv2d(WeightScope scope, int inChannels, int outChannels, int kernel, int stride = 1, Padding2d? padding = null)
    {
        _weight = Own(scope.Conv("weight", outChannels, inChannels, kernel, kernel));
        _bias = Own(scope.Tensor("bias", outChannels));
        _options = new Conv2dOptions(stride, padding ?? Padding2d.Same(kernel / 2));
    }

    /// <summary>x (N, H, W, Cin) → (N, Ho, Wo, Cout), plus <paramref name="residual"/> added in the same pass.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor? residual = null) => b.Conv2d(x, _weight, _bias, _options, residual);
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>nn.LayerNorm over the last axis with weight and bias.</summary>
public sealed class LayerNorm : Module
{
    private readonly Tensor _weight;
    private readonly Tensor _bias;
    private readonly float _eps;

    public LayerNorm(WeightScope scope, int size, float eps)
    {
        _weight = Own(scope.Tensor("weight", size));
        _bias = Own(scope.Tensor("bias", size));
        _eps = eps;
    }

    public Tensor Forward(IBackend b, Tensor x) => b.LayerNorm(x, _weight, _bias, _eps);
}

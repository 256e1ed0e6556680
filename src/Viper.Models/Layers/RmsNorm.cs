using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>LlamaRMSNorm as Mistral and IDEFICS2 use it: <c>weight</c> · x / √(mean(x²) + eps), statistics in f32.</summary>
public sealed class RmsNorm : Module
{
    private readonly Tensor _weight;
    private readonly float _eps;

    public RmsNorm(WeightScope scope, int size, float eps)
    {
        _weight = Own(scope.Tensor("weight", size));
        _eps = eps;
    }

    public Tensor Forward(IBackend b, Tensor x) => b.RmsNorm(x, _weight, _eps);
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>MistralRMSNorm: <c>weight</c> · x / √(mean(x²) + eps), statistics in f32.</summary>
public sealed class MistralRmsNorm : Module
{
    private readonly Tensor _weight;
    private readonly float _eps;

    public MistralRmsNorm(WeightScope scope, int size, float eps)
    {
        _weight = Own(scope.Tensor("weight", size));
        _eps = eps;
    }

    public Tensor Forward(IBackend b, Tensor x) => b.RmsNorm(x, _weight, _eps);
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>nn.LayerNorm over the last axis with weight and bias.</summary>
public sealed class LayerNorm(WeightScope scope, int size, float eps) : IDisposable
{
    private readonly Tensor _weight = scope.Tensor("weight", size);
    private readonly Tensor _bias = scope.Tensor("bias", size);

    public Tensor Forward(IBackend b, Tensor x) => b.LayerNorm(x, _weight, _bias, eps);

    public void Dispose()
    {
        _weight.Dispose();
        _bias.Dispose();
    }
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>nn.Linear: <c>weight</c> (out, in) and, when present, <c>bias</c> (out).</summary>
public sealed class Linear : Module
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    public Linear(WeightScope scope, int inFeatures, int outFeatures, bool bias = true)
    {
        _weight = Own(scope.Tensor("weight", outFeatures, inFeatures));
        _bias = bias ? Own(scope.Tensor("bias", outFeatures)) : null;
    }

    public Tensor Forward(IBackend b, Tensor x) => b.Linear(x, _weight, _bias);
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>nn.GroupNorm with affine weight and bias over channel-last activations, optionally fused with SiLU and an add.</summary>
public sealed class GroupNorm : Module
{
    private readonly Tensor _weight;
    private readonly Tensor _bias;
    private readonly int _groups;
    private readonly float _eps;

    public GroupNorm(WeightScope scope, int groups, int channels, float eps)
    {
        if (channels % groups != 0)
        {
            throw new Viper.Weights.ModelConfigException($"{scope.Prefix}: {channels} channels do not split into {groups} groups");
        }

        _weight = Own(scope.Tensor("weight", channels));
        _bias = Own(scope.Tensor("bias", channels));
        (_groups, _eps) = (groups, eps);
    }

    public Tensor Forward(IBackend b, Tensor x, bool silu = false, Tensor? add = null) => b.Diffusion().GroupNorm(x, _groups, _weight, _bias, _eps, silu, add);
}

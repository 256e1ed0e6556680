using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Models.Clip;

/// <summary>nn.LayerNorm over the last axis with weight and bias.</summary>
public sealed class LayerNorm : Module
{
    private readonly Tensor _weight;
    private readonly Tensor _bias;
    private readonly float _eps;
    private readonly string _path;

    public LayerNorm(WeightScope scope, int size, float eps)
    {
        _weight = Own(scope.Tensor("weight", size));
        _bias = Own(scope.Tensor("bias", size));
        _eps = eps;
        _path = scope.Prefix;
    }

    public Tensor Forward(IBackend b, Tensor x) => b.LayerNorm(x, _weight, _bias, _eps);

    /// <summary>dx for the forward's input x; dγ, dβ into <paramref name="grads"/> when it wants them.</summary>
    public Tensor Backward(IBackend b, Tensor x, Tensor dy, Gradients grads)
    {
        LayerNormGradients g = b.Training().LayerNormBackward(x, _weight, dy, _eps);
        Keep(grads, $"{_path}.weight", g.DGamma);
        Keep(grads, $"{_path}.bias", g.DBeta);
        return g.Dx;
    }

    private static void Keep(Gradients grads, string name, Tensor gradient)
    {
        if (grads.Wants(name))
        {
            grads.Add(name, gradient);
        }
        else
        {
            gradient.Dispose();
        }
    }
}

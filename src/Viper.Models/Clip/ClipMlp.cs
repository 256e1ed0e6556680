using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPMLP (<c>mlp</c>): fc1 → activation → fc2.</summary>
public sealed class ClipMlp : Module
{
    private readonly Linear _fc1, _fc2;
    private readonly Activation _activation;

    public ClipMlp(WeightScope scope, int hidden, int intermediate, Activation activation)
    {
        _fc1 = Own(new Linear(scope["fc1"], hidden, intermediate));
        _fc2 = Own(new Linear(scope["fc2"], intermediate, hidden));
        _activation = activation;
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor h = _fc1.Forward(b, x);
        using Tensor a = b.Activate(h, _activation);
        return _fc2.Forward(b, a);
    }
}

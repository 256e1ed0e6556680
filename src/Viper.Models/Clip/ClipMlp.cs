using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPMLP (<c>mlp</c>): fc1 → activation → fc2.</summary>
public sealed class ClipMlp : IDisposable
{
    private readonly Tensor _fc1Weight, _fc1Bias, _fc2Weight, _fc2Bias;
    private readonly Activation _activation;

    public ClipMlp(WeightScope scope, int hidden, int intermediate, Activation activation)
    {
        (_fc1Weight, _fc1Bias) = (scope["fc1"].Tensor("weight", intermediate, hidden), scope["fc1"].Tensor("bias", intermediate));
        (_fc2Weight, _fc2Bias) = (scope["fc2"].Tensor("weight", hidden, intermediate), scope["fc2"].Tensor("bias", hidden));
        _activation = activation;
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor h = b.Linear(x, _fc1Weight, _fc1Bias);
        using Tensor a = b.Activate(h, _activation);
        return b.Linear(a, _fc2Weight, _fc2Bias);
    }

    public void Dispose()
    {
        _fc1Weight.Dispose();
        _fc1Bias.Dispose();
        _fc2Weight.Dispose();
        _fc2Bias.Dispose();
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
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

    /// <summary><see cref="Forward"/> keeping what <see cref="Backward"/> needs.</summary>
    public Tensor ForwardForTraining(IBackend b, Tensor x, out Saved saved)
    {
        Tensor h = _fc1.Forward(b, x);
        Tensor a = b.Activate(h, _activation);
        saved = new Saved(x, h, a);
        return _fc2.Forward(b, a);
    }

    public Tensor Backward(IBackend b, Saved s, Tensor dOut, Gradients grads)
    {
        using Tensor da = _fc2.Backward(b, s.Activated, dOut, grads)!;
        using Tensor dh = b.Training().ActivationBackward(s.Hidden, da, _activation);
        return _fc1.Backward(b, s.X, dh, grads)!;
    }

    /// <summary>A training forward's activations: owns fc1's output and its activation; x is the caller's.</summary>
    public sealed record Saved(Tensor X, Tensor Hidden, Tensor Activated) : IDisposable
    {
        public void Dispose()
        {
            Hidden.Dispose();
            Activated.Dispose();
        }
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>MistralMLP (<c>mlp</c>): down_proj(silu(gate_proj(x)) · up_proj(x)), no biases.</summary>
public sealed class MistralMlp : Module
{
    private readonly Linear _gate, _up, _down;

    public MistralMlp(WeightScope scope, int hidden, int intermediate)
    {
        _gate = Own(new Linear(scope["gate_proj"], hidden, intermediate, bias: false));
        _up = Own(new Linear(scope["up_proj"], hidden, intermediate, bias: false));
        _down = Own(new Linear(scope["down_proj"], intermediate, hidden, bias: false));
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor gate = _gate.Forward(b, x);
        using Tensor up = _up.Forward(b, x);
        using Tensor h = b.Swiglu(gate, up);
        return _down.Forward(b, h);
    }
}

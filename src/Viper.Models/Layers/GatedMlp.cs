using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>
/// The SwiGLU MLP of Llama-family models — MistralMLP, Idefics2MLP (<c>mlp</c>, <c>modality_projection</c>):
/// down_proj(silu(gate_proj(x)) · up_proj(x)), no biases.
/// </summary>
public sealed class GatedMlp : Module
{
    private readonly Linear _gate, _up, _down;

    public GatedMlp(WeightScope scope, int inFeatures, int intermediate, int outFeatures)
    {
        _gate = Own(new Linear(scope["gate_proj"], inFeatures, intermediate, bias: false));
        _up = Own(new Linear(scope["up_proj"], inFeatures, intermediate, bias: false));
        _down = Own(new Linear(scope["down_proj"], intermediate, outFeatures, bias: false));
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor gate = _gate.Forward(b, x);
        using Tensor up = _up.Forward(b, x);
        using Tensor h = b.Swiglu(gate, up);
        return _down.Forward(b, h);
    }
}

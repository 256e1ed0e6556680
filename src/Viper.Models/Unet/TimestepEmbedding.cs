using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>diffusers TimestepEmbedding (embeddings.py): <c>linear_1</c>, SiLU, <c>linear_2</c>.</summary>
public sealed class TimestepEmbedding : Module
{
    private readonly Linear _linear1, _linear2;

    public TimestepEmbedding(WeightScope scope, int inChannels, int timeEmbedDim)
    {
        _linear1 = Own(new Linear(scope["linear_1"], inChannels, timeEmbedDim));
        _linear2 = Own(new Linear(scope["linear_2"], timeEmbedDim, timeEmbedDim));
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        using Tensor h = _linear1.Forward(b, x);
        using Tensor activated = b.Activate(h, Activation.Silu);
        return _linear2.Forward(b, activated);
    }
}

using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>
/// nn.Linear: <c>weight</c> (out, in) and, when present, <c>bias</c> (out); registered in its source's
/// <see cref="ParameterSet"/> under its module path, where an unmerged low-rank adapter can be attached.
/// </summary>
public sealed class Linear : Module
{
    private readonly Tensor _weight;
    private readonly Tensor? _bias;

    public Linear(WeightScope scope, int inFeatures, int outFeatures, bool bias = true)
    {
        _weight = Own(scope.Tensor("weight", outFeatures, inFeatures));
        _bias = bias ? Own(scope.Tensor("bias", outFeatures)) : null;
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        scope.Source.Parameters.AddLinear(scope.Prefix, this);
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>
    /// An unmerged low-rank adapter (LoRA): the output gains scale·up(down(x)). The caller owns its tensors; null
    /// removes it. Merging into the weight at load time is <see cref="TransformedWeights"/>' job.
    /// </summary>
    public LowRankAdapter? Adapter
    {
        get;
        set
        {
            if (value is { } a && (a.Down.Shape[1] != InFeatures || a.Up.Shape[0] != OutFeatures))
            {
                throw new ArgumentException($"a low-rank adapter of down {a.Down.Shape}, up {a.Up.Shape} does not fit a {InFeatures}→{OutFeatures} linear layer");
            }

            field = value;
        }
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        Tensor y = b.Linear(x, _weight, _bias);
        if (Adapter is not { } adapter)
        {
            return y;
        }

        using (y)
        using (Tensor down = b.Linear(x, adapter.Down, null))
        using (Tensor up = b.Linear(down, adapter.Up, null))
        using (Tensor scaled = b.Scale(up, adapter.Scale))
        {
            return b.Add(y, scaled);
        }
    }
}

/// <summary>PEFT's LoRA pair for one linear layer: down = lora_A (r, in), up = lora_B (out, r), scale = alpha / r (or alpha / √r with rsLoRA).</summary>
public sealed record LowRankAdapter(Tensor Down, Tensor Up, float Scale)
{
    public int Rank => Down.Shape[0];
}

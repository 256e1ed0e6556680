using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;

namespace Viper.Models.Layers;

/// <summary>
/// nn.Linear: <c>weight</c> (out, in) and, when present, <c>bias</c> (out); registered in its source's
/// <see cref="ParameterSet"/> under its module path, where an unmerged low-rank adapter can be attached. The weight may be
/// kept in a weight format (<see cref="WeightSource.LinearWeights"/>; int8/FP8 with <c>weight_scale</c>); the adapter
/// then still runs unmerged in the compute dtype beside it.
/// </summary>
public sealed class Linear : Module
{
    private readonly Tensor _weight;
    private readonly Tensor? _weightScale;
    private readonly Tensor? _bias;

    public Linear(WeightScope scope, int inFeatures, int outFeatures, bool bias = true)
    {
        LinearWeight weight = scope.LinearWeight("weight", outFeatures, inFeatures);
        _weight = Own(weight.Weight);
        _weightScale = weight.Scale is null ? null : Own(weight.Scale);
        _bias = bias ? Own(scope.Tensor("bias", outFeatures)) : null;
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        Path = scope.Prefix;
        scope.Source.Parameters.AddLinear(scope.Prefix, this);
    }

    /// <summary>The module path (<c>text_model.encoder.layers.0.mlp.fc1</c>); its parameters are Path.weight and Path.bias.</summary>
    public string Path { get; }

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
        Tensor y = b.Linear(x, _weight, _bias, _weightScale);
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

    /// <summary>
    /// nn.Linear's backward for the input x (…, in) of a forward and the output gradient dy (…, out): dW = dyᵀ·x and
    /// db = Σ dy go into <paramref name="grads"/> when it wants them; returns dx = dy·W (null when not asked for).
    /// </summary>
    public Tensor? Backward(IBackend b, Tensor x, Tensor dy, Gradients grads, bool inputGradient = true)
    {
        if (Adapter is not null)
        {
            throw new NotSupportedException($"{Path}: training through an unmerged low-rank adapter is not supported (merge it at load)");
        }

        if (_weight.DType != x.DType)
        {
            throw new NotSupportedException($"{Path}: training needs weights in the compute dtype, not {_weight.DType.Label()} (load without a weight format)");
        }

        int rows = checked((int)x.Shape.Rows);
        using Tensor dy3 = dy.Reshape(1, rows, OutFeatures);
        if (grads.Wants($"{Path}.weight"))
        {
            using Tensor x3 = x.Reshape(1, rows, InFeatures);
            grads.Add($"{Path}.weight", b.MatMul(dy3, x3, transposeA: true).ReshapeInto(OutFeatures, InFeatures));
        }

        if (_bias is not null && grads.Wants($"{Path}.bias"))
        {
            grads.Add($"{Path}.bias", b.SumLeading(dy, dy.Shape.Rank - 1));
        }

        if (!inputGradient)
        {
            return null;
        }

        using Tensor w3 = _weight.Reshape(1, OutFeatures, InFeatures);
        return b.MatMul(dy3, w3).ReshapeInto(x.Shape.ToArray());
    }
}

/// <summary>PEFT's LoRA pair for one linear layer: down = lora_A (r, in), up = lora_B (out, r), scale = alpha / r (or alpha / √r with rsLoRA).</summary>
public sealed record LowRankAdapter(Tensor Down, Tensor Up, float Scale)
{
    public int Rank => Down.Shape[0];
}

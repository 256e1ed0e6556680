using Viper.Runtime.Training;

namespace Viper.Runtime;

/// <summary>Checks of the gradient ops (the backward of each forward op the CLIP text transformer uses) and the Adam update.</summary>
public static partial class OpChecks
{
    /// <summary>Returns (rows, C) for dy (…, C) and I32 ids (…).</summary>
    public static Shape EmbeddingBackward(Tensor dy, Tensor ids, int rows)
    {
        Float("embedding_backward", dy, "dy");
        if (ids.DType != DType.I32)
        {
            throw new ArgumentException($"embedding_backward: ids must be I32, got {ids.DType}");
        }

        if (rows <= 0 || dy.Shape.Rank != ids.Shape.Rank + 1 || !new Shape([.. ids.Shape.Dims, dy.Shape.Last]).Equals(dy.Shape))
        {
            throw new ArgumentException($"embedding_backward: dy {dy.Shape} must be ids {ids.Shape} + (C), into a table of rows > 0 (got {rows})");
        }

        return new Shape(rows, dy.Shape.Last);
    }

    public static void LayerNormBackward(Tensor x, Tensor gamma, Tensor dy)
    {
        LastAxisAffine("layer_norm_backward", x, gamma, null);
        ShapeIs("layer_norm_backward", dy, "dy", x.Shape);
        SameDType("layer_norm_backward", x, dy);
    }

    public static void ActivationBackward(Tensor x, Tensor dy, Activation activation)
    {
        Activate(x, activation);
        ShapeIs("activation_backward", dy, "dy", x.Shape);
        SameDType("activation_backward", x, dy);
    }

    public static void L2NormalizeBackward(Tensor x, Tensor dy)
    {
        Float("l2_normalize_backward", x, "x");
        ShapeIs("l2_normalize_backward", dy, "dy", x.Shape);
        SameDType("l2_normalize_backward", x, dy);
    }

    /// <summary>What attention's backward supports: the forward's checks, and no key lengths, masks or biases (the CLIP text encoder's causal self-attention).</summary>
    public static void AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions o)
    {
        Attention(q, k, v, o);
        ShapeIs("attention_backward", dOut, "dOut", q.Shape);
        SameDType("attention_backward", q, dOut);
        if (o.KeyLengths is not null || o.KeyMask is not null || o.Bias is not null)
        {
            throw new NotSupportedException("attention_backward: key lengths, key masks and biases have no backward (causal or full attention only)");
        }
    }

    public static void AdamStep(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step)
    {
        step.Validate();
        foreach ((Tensor t, string name) in new[] { (master, "master"), (m, "m"), (v, "v") })
        {
            if (t.DType != DType.F32)
            {
                throw new ArgumentException($"adam: {name} must be f32, got {t.DType}");
            }

            ShapeIs("adam", t, name, grad.Shape);
        }

        Float("adam", grad, "grad");
        if (param is not null)
        {
            ShapeIs("adam", param, "param", grad.Shape);
            SameDType("adam", grad, param); // the gradient comes in the model's dtype
        }
    }
}

using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Adapters;

/// <summary>
/// A checkpoint's weights with a LoRA adapter merged as PEFT's merge_and_unload does — W + scale·(B·A) — computed in f32
/// from the stored weight (not from its already-rounded copy in the model dtype) and rounded once; modules_to_save
/// tensors replace the base's. Without <paramref name="mergeLowRank"/> only the replacements apply (the LoRA matrices are
/// attached to the linear layers after loading). Everything else is the checkpoint's.
/// </summary>
internal sealed class MergedLoraWeights(CheckpointWeights checkpoint, PeftLoraAdapter adapter, bool mergeLowRank)
    : WeightSource(checkpoint.Backend, checkpoint.DType, checkpoint.LinearWeights)
{
    /// <summary>
    /// A weight the adapter leaves alone loads as the checkpoint loads it (a stored format stays as stored); a merged or
    /// replaced one is merged in float first, then converted to <see cref="WeightSource.LinearWeights"/>' format.
    /// </summary>
    protected internal override LinearWeight ReadLinear(string name, Shape shape)
    {
        if (adapter.Replacement(name) is null && !(mergeLowRank && adapter.Adapts(name, out _)))
        {
            return checkpoint.ReadLinear(name, shape);
        }

        if (QuantizedCheckpoint.StoredFormat(checkpoint.Store, name) is { } stored)
        {
            throw new WeightsException($"{checkpoint.Store.Source}: '{name}' is stored as {stored.Label()}; the adapter cannot be merged into it (keep the adapter unmerged)");
        }

        return base.ReadLinear(name, shape);
    }

    protected internal override Tensor Read(string name, Shape shape)
    {
        if (adapter.Replacement(name) is { } key)
        {
            return adapter.Store.Load(Backend, key, shape, DType);
        }

        if (!mergeLowRank || !adapter.Adapts(name, out string module))
        {
            return checkpoint.Read(name, shape);
        }

        (Tensor down, Tensor up, double scale) = adapter.Matrices(module, Backend);
        using (down)
        using (up)
        using (Tensor weight = checkpoint.Store.Load(Backend, name, shape, DType.F32))
        using (Tensor product = Backend.MatMul(up.Reshape(1, up.Shape[0], up.Shape[1]), down.Reshape(1, down.Shape[0], down.Shape[1])))
        using (Tensor delta = Backend.Scale(product.Reshape(shape.ToArray()), (float)scale))
        {
            Tensor merged = Backend.Add(weight, delta);
            if (DType == DType.F32)
            {
                return merged;
            }

            using (merged)
            {
                return Backend.Cast(merged, DType);
            }
        }
    }

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) => checkpoint.ReadConv(name, cout, cin, kh, kw);
}

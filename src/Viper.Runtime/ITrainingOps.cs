namespace Viper.Runtime;

/// <summary>
/// The training ops a backend offers (aesthetic gradients): the backward of each op the CLIP text transformer's forward
/// uses, and the fused optimizer step. Linear's backward is <see cref="IBackend.MatMul"/> (dX = dY·W, dW = dYᵀ·X) and
/// <see cref="IBackend.SumLeading"/> (db). Asked for with <see cref="Capabilities.Training"/>.
/// </summary>
public interface ITrainingOps
{
    /// <summary>
    /// The gradient of <see cref="Embedding"/>: rows of dy (…, C) added into a zeroed (rows, C) table at ids (I32, …), in
    /// position order with f32 sums, rounded once to dy's dtype. An id outside [0, rows) is a <see cref="TensorValueException"/>.
    /// </summary>
    Tensor EmbeddingBackward(Tensor dy, Tensor ids, int rows);

    /// <summary>dx, dγ, dβ of <see cref="LayerNorm"/> over the last axis (statistics recomputed from x in f32; dγ, dβ summed over rows in order).</summary>
    Training.LayerNormGradients LayerNormBackward(Tensor x, Tensor gamma, Tensor dy, float eps);

    /// <summary>
    /// dq, dk, dv of <see cref="Attention"/> (causal or full, grouped heads allowed; no key lengths, masks or biases): the
    /// probabilities are recomputed from q and k, then dS = P∘(dP − rowsum(P∘dP)) with dP = dOut·Vᵀ.
    /// </summary>
    Training.AttentionGradients AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options);

    /// <summary>dx = dy·f′(x) for <see cref="Activate"/>'s activations.</summary>
    Tensor ActivationBackward(Tensor x, Tensor dy, Activation activation);

    /// <summary>dx of <see cref="L2Normalize"/>: (dy − x̂·(dy·x̂)) / ‖x‖ over the last axis, dy / eps where the norm is clamped.</summary>
    Tensor L2NormalizeBackward(Tensor x, Tensor dy, float eps = 1e-12f);

    /// <summary>
    /// One fused Adam(W) update in place: f32 master weights and moments m, v; grad in any float dtype; when
    /// <paramref name="param"/> (grad's dtype) is given, it receives the new master value rounded to its dtype (the model's copy).
    /// </summary>
    void AdamUpdate(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, Training.AdamStep step);
}

namespace Viper.Runtime;

/// <summary>
/// The ops models program against. Every op validates shapes and dtypes and returns a new tensor
/// on the same backend; f16/bf16 inputs are computed with f32 accumulation and rounded once.
/// Convolutional activations are NHWC; transformer activations are (B, T, C).
/// </summary>
public interface IBackend : IDisposable
{
    string Name { get; }

    Tensor Allocate(Shape shape, DType dtype);

    Tensor FromHost(ReadOnlySpan<byte> data, Shape shape, DType dtype);

    void CopyToHost(Tensor tensor, Span<byte> destination);

    /// <summary>
    /// Writes <paramref name="source"/>'s values into <paramref name="destination"/> (same shape and dtype) in place: a
    /// parameter update that a model's next forward (and a graph recorded over it) sees, a clone (<see cref="TensorCopies.Clone"/>).
    /// </summary>
    void CopyInto(Tensor source, Tensor destination);

    /// <summary>
    /// x (…, K) · weightᵀ + bias, weight (N, K) as stored by nn.Linear; returns (…, N) in x's dtype. x is f32, f16 or bf16;
    /// the weight is any float dtype or a weight-only format (<see cref="DTypeExtensions.IsQuantized"/>), read as stored
    /// and dequantized on the fly: the result is the linear over the dequantized f32 weight, accumulated in f32 and
    /// rounded once. int8 and FP8 weights take <paramref name="weightScale"/>, f32 (N) per output channel or (1) per tensor.
    /// (The CUDA backend's prefill with f16/bf16 activations dequantizes the weight into x's dtype for its tensor-core GEMM:
    /// each weight is then rounded once to that dtype, as PyTorch's w.to(x.dtype) would.)
    /// </summary>
    Tensor Linear(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale = null);

    /// <summary>
    /// Batched alpha·a·b → (B, M, N): a (B, M, K) or, when <paramref name="transposeA"/>, (B, K, M); b (B, K, N) or, when
    /// <paramref name="transposeB"/>, (B, N, K). (aᵀ·b is what weight gradients need: dW = dYᵀ·X.)
    /// </summary>
    Tensor MatMul(Tensor a, Tensor b, bool transposeB = false, float alpha = 1f, bool transposeA = false);

    /// <summary>
    /// x (N, H, W, Cin), weight (Cout, KH, KW, Cin), bias (Cout) → (N, Ho, Wo, Cout), plus <paramref name="residual"/>
    /// (same shape as the output) when given — the ResNet skip added in the same pass.
    /// </summary>
    Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual = null);

    /// <summary>
    /// Group norm over the channel-last layout (N, …, C) with f32 statistics, optionally followed by SiLU. When
    /// <paramref name="add"/> is given — x's shape, or (N, C) broadcast over positions — x + add (rounded to x's dtype,
    /// as the unfused add would be) is what gets normalised: diffusers ResnetBlock2D's norm2(h + temb) in one op.
    /// </summary>
    Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu = false, Tensor? add = null);

    /// <summary>Layer norm over the last axis; gamma/beta optional (elementwise_affine=False).</summary>
    Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps);

    /// <summary>RMS norm over the last axis as in HF Llama/Mistral: x·rsqrt(mean(x²)+eps)·gamma, statistics in f32.</summary>
    Tensor RmsNorm(Tensor x, Tensor gamma, float eps);

    /// <summary>q (B, Tq, Hq·D), k and v (B, Tk, Hkv·D) → (B, Tq, Hq·D).</summary>
    Tensor Attention(Tensor q, Tensor k, Tensor v, AttentionOptions options);

    /// <summary>
    /// Writes row b of values (B, Tn, C) into cache (B, Tmax, C) at position positions[b] (I32 (B), in device memory, so a
    /// captured decode step advances by rewriting it); a position that would overflow is a <see cref="TensorValueException"/>.
    /// </summary>
    void KvCacheWrite(Tensor cache, Tensor values, Tensor positions);

    Tensor Activate(Tensor x, Activation activation);

    /// <summary>diffusers GEGLU after its projection: x (…, 2N) split into (h, gate) → h·gelu(gate), (…, N).</summary>
    Tensor Geglu(Tensor x);

    /// <summary>silu(gate)·up, as in Mistral's MLP.</summary>
    Tensor Swiglu(Tensor gate, Tensor up);

    /// <summary>a + b with NumPy broadcasting of b onto a's shape.</summary>
    Tensor Add(Tensor a, Tensor b);

    /// <summary>a · b with NumPy broadcasting of b onto a's shape.</summary>
    Tensor Mul(Tensor a, Tensor b);

    Tensor Scale(Tensor x, float factor);

    /// <summary>torch.clamp(x, min, max) elementwise in f32, rounded once to x's dtype; NaN stays NaN (the schedulers' clip_sample).</summary>
    Tensor Clamp(Tensor x, float min, float max);

    Tensor Concat(IReadOnlyList<Tensor> parts, int axis);

    Tensor[] Split(Tensor x, int axis, IReadOnlyList<int> sizes);

    /// <summary>
    /// torch.narrow as a copy: elements [start, start + length) along <paramref name="axis"/> (negative from the end),
    /// every other axis whole. Along axis 0 a view (<see cref="Tensor.Slice"/>) needs no copy.
    /// </summary>
    Tensor Narrow(Tensor x, int axis, int start, int length);

    /// <summary>NHWC nearest-neighbour 2× upsample.</summary>
    Tensor UpsampleNearest2x(Tensor x);

    /// <summary>Rows of table (V, C) gathered by integer ids (…) → (…, C). Out-of-range ids throw.</summary>
    Tensor Embedding(Tensor table, Tensor ids);

    /// <summary>Sinusoidal embedding of timesteps (N) → (N, Dim), diffusers' get_timestep_embedding.</summary>
    Tensor TimestepEmbedding(Tensor timesteps, TimestepEmbeddingOptions options);

    /// <summary>
    /// Rotary position embedding on x (B, T, H·D) in the HF rotate_half convention:
    /// x·cos + rotate_half(x)·sin with angles position·θ^(−2i/D), positions I32 (T) shared by the batch or (B, T) per
    /// batch row (left-padded prompts, sequences at different lengths in one decode batch).
    /// </summary>
    Tensor Rotary(Tensor x, Tensor positions, int headDim, float theta);

    Tensor Cast(Tensor x, DType dtype);

    /// <summary>
    /// The fused ViPer guidance step over the four UNet outputs (same shape and dtype) and f32 latents, updated in
    /// place: eps = eps_u + w·(eps_c + β₊·eps_vp+ − eps_u − β₋·eps_vp−), then x ← a·x + b·eps (+ c·noise when given).
    /// Every backend follows <see cref="Guidance.GuidanceStep.Combine"/>'s order of f32 operations exactly.
    /// </summary>
    void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Guidance.GuidanceStep step);

    /// <summary>Index of the largest value along the last axis (first on ties) → I32 (…).</summary>
    Tensor Argmax(Tensor x);

    /// <summary>
    /// The largest value minus the second largest along the last axis (≥ 2 long) → F32 (…): how far a greedy pick led the
    /// runner-up (0 when the top is tied). NaN values are ignored (as by <see cref="Argmax"/>'s comparisons).
    /// </summary>
    Tensor TopGap(Tensor x);

    /// <summary>
    /// Logits (B, V) with every token in ids (B, L) penalised once, as transformers' RepetitionPenaltyLogitsProcessor:
    /// a score below zero is multiplied by the penalty, any other divided by it.
    /// </summary>
    Tensor RepetitionPenalty(Tensor logits, Tensor ids, float penalty);

    /// <summary>Mean over the last axis → (…).</summary>
    Tensor Mean(Tensor x);

    /// <summary>
    /// Sum over the first <paramref name="axes"/> axes (f32 accumulation, rounded once to x's dtype): x (B, T, C) with
    /// axes 2 → (C), a bias gradient; axes 0 copies.
    /// </summary>
    Tensor SumLeading(Tensor x, int axes);

    /// <summary>x / max(‖x‖₂, eps) over the last axis (torch.nn.functional.normalize).</summary>
    Tensor L2Normalize(Tensor x, float eps = 1e-12f);

    // ---- Gradients: the backward of each op the CLIP text transformer's forward uses, and the optimizer step
    // (aesthetic gradients). Linear's backward is MatMul (dX = dY·W, dW = dYᵀ·X) and SumLeading (db).

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

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

    /// <summary>Layer norm over the last axis; gamma/beta optional (elementwise_affine=False).</summary>
    Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps);

    /// <summary>RMS norm over the last axis as in HF Llama/Mistral: x·rsqrt(mean(x²)+eps)·gamma, statistics in f32.</summary>
    Tensor RmsNorm(Tensor x, Tensor gamma, float eps);

    /// <summary>q (B, Tq, Hq·D), k and v (B, Tk, Hkv·D) → (B, Tq, Hq·D).</summary>
    Tensor Attention(Tensor q, Tensor k, Tensor v, AttentionOptions options);

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

    Tensor Cast(Tensor x, DType dtype);

    /// <summary>Mean over the last axis → (…).</summary>
    Tensor Mean(Tensor x);

    /// <summary>
    /// Sum over the first <paramref name="axes"/> axes (f32 accumulation, rounded once to x's dtype): x (B, T, C) with
    /// axes 2 → (C), a bias gradient; axes 0 copies.
    /// </summary>
    Tensor SumLeading(Tensor x, int axes);

    /// <summary>x / max(‖x‖₂, eps) over the last axis (torch.nn.functional.normalize).</summary>
    Tensor L2Normalize(Tensor x, float eps = 1e-12f);
}

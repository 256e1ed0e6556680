namespace Viper.Runtime;

/// <summary>Elementwise activations. GELU is the exact erf form; GeluTanh is PyTorch's approximate="tanh".</summary>
public enum Activation
{
    Silu,
    Gelu,
    GeluTanh,
    /// <summary>x·σ(1.702x), OpenAI CLIP's activation.</summary>
    QuickGelu,
}

/// <summary>
/// Explicit zero padding, per side. The VAE encoder's stride-2 downsample pads (0, 1, 0, 1):
/// nothing on top/left, one row/column on bottom/right (diffusers Downsample2D with padding=0).
/// </summary>
public readonly record struct Padding2d(int Top, int Bottom, int Left, int Right)
{
    public static Padding2d Same(int p) => new(p, p, p, p);
}

/// <summary>NHWC convolution; the weight is laid out [Cout, KH, KW, Cin] (re-laid from PyTorch's OIHW at load).</summary>
public readonly record struct Conv2dOptions(int Stride, Padding2d Padding)
{
    public int OutputSize(int input, int kernel, int padBefore, int padAfter) =>
        ((input + padBefore + padAfter - kernel) / Stride) + 1;
}

/// <summary>
/// Scaled-dot-product attention over (B, T, H·D) activations.
/// <para>Causal masking is aligned to the end of the keys, as with a KV cache: query i of Tq may see key j
/// when j ≤ i + (Tk − Tq). <see cref="KeyLengths"/> (one per batch item, I32 [B]) masks padded keys at
/// the end of each sequence. KV heads may be fewer than query heads (GQA): query head h reads KV head
/// h / (Hq / Hkv).</para>
/// </summary>
public sealed record AttentionOptions(int QueryHeads, int KeyValueHeads, int HeadDim)
{
    public bool Causal { get; init; }

    /// <summary>Softmax scale; defaults to 1/√HeadDim.</summary>
    public float? Scale { get; init; }

    /// <summary>I32 (B) keys visible per batch row (a prefix); values outside [1, Tk] are a <see cref="TensorValueException"/>.</summary>
    public Tensor? KeyLengths { get; init; }

    /// <summary>
    /// I32 (B, Tk): nonzero keys are attended, zero keys excluded anywhere in the row (SigLIP's patch masks, the
    /// perceiver's context mask). A query row left with no key outputs zeros.
    /// </summary>
    public Tensor? KeyMask { get; init; }

    /// <summary>F32 (B, 1 or Hq, Tq, Tk) added to the scaled scores before the softmax (transformers' 4-D additive masks).</summary>
    public Tensor? Bias { get; init; }

    public float EffectiveScale => Scale ?? 1f / MathF.Sqrt(HeadDim);
}

/// <summary>diffusers' get_timestep_embedding arguments (embeddings.py).</summary>
public readonly record struct TimestepEmbeddingOptions(
    int Dim,
    bool FlipSinToCos,
    float DownscaleFreqShift,
    float Scale = 1f,
    float MaxPeriod = 10000f);

using Viper.Runtime;

namespace Viper.Cuda.Kernels;

/// <summary>One kernel family: its source file under kernels/ and every extern "C" entry point it defines.</summary>
public sealed record KernelFamily(string Source, IReadOnlyList<string> Entries);

/// <summary>
/// Every entry point of kernels/*.cu and its specializations, in one place. Entry names are
/// op_variant_dtype (group_norm_apply_f16); <see cref="Entry"/> builds them so no launcher spells one by hand.
/// </summary>
public static class KernelTable
{
    private static readonly DType[] FloatTypes = [DType.F32, DType.F16, DType.BF16];

    /// <summary>Data-movement kernels work on elements of these sizes, whatever the dtype.</summary>
    private static readonly int[] ElementBits = [8, 16, 32, 64];

    public static readonly KernelFamily Elementwise = new("elementwise.cu",
    [
        .. Each("add"), .. Each("mul"), .. Each("scale"), .. Each("add_broadcast"), .. Each("mul_broadcast"), .. Each("clamp"),
        .. Casts().Select(c => Entry("cast", c.From, c.To)),
    ]);

    public static readonly KernelFamily Reduce = new("reduce.cu", [.. Each("sum_rows"), .. Each("sum_leading"), .. Each("embedding_backward")]);

    public static readonly KernelFamily Guidance = new("guidance.cu", [.. Each("guidance_step")]);

    public static readonly KernelFamily Norms = new("norms.cu", 
        [.. Each("group_norm_stats"), .. Each("group_norm_apply"), .. Each("row_norm"), .. Each("layer_norm_backward"), .. Each("layer_norm_param_backward")]);

    public static readonly KernelFamily Activations = new("activations.cu", [.. Each("activate"), .. Each("geglu"), .. Each("swiglu"), .. Each("activation_backward")]);

    public static readonly KernelFamily Rows = new("softmax.cu",
        [.. Each("argmax"), .. Each("top_gap"), .. Each("l2_normalize"), .. Each("l2_normalize_backward"), .. Each("repetition_penalty_i32"), .. Each("repetition_penalty_i64")]);

    public static readonly KernelFamily Layout = new("layout.cu",
    [
        "copy_rows", "kv_cache_write_rows",
        .. ElementBits.SelectMany(b => new[] { $"gather_b{b}", $"upsample_nearest2x_b{b}", $"embedding_i32_b{b}", $"embedding_i64_b{b}" }),
    ]);

    public static readonly KernelFamily Embeddings = new("embeddings.cu", ["timestep_embedding", .. Each("rotary")]);

    public static readonly KernelFamily Attention = new("attention.cu",
        [.. Each("attention_rows"), .. Each("attention_split_partial"), .. Each("attention_split_combine")]);

    public static readonly KernelFamily AttentionBackward = new("attention_backward.cu",
        [.. Each("attention_backward_rows"), .. Each("attention_backward_dq"), .. Each("attention_backward_dkv")]);

    public static readonly KernelFamily Adam = new("adam.cu", [.. Each("adam_update")]);

    public static readonly KernelFamily FlashAttention = new("flash_attention.cu", ["flash_attention_f16", "flash_attention_bf16"]);

    public static readonly KernelFamily Im2Col = new("im2col.cu", [.. Each("im2col")]);

    public static readonly KernelFamily Conv = new("conv.cu", ["conv2d_implicit_gemm_f16", "conv2d_implicit_gemm_bf16"]);

    /// <summary>Weight formats quant.cu reads (its entries are named by <see cref="DTypeExtensions.Label"/>: linear_small_q4_0_bf16).</summary>
    public static readonly DType[] WeightFormats = [DType.F32, DType.F16, DType.BF16, DType.I8, DType.F8E4M3, DType.F8E5M2, DType.Q8_0, DType.Q4_0];

    public static readonly KernelFamily Quant = new("quant.cu",
    [
        .. WeightFormats.SelectMany(w => FloatTypes.SelectMany(t => new[] { WeightEntry("linear_small", w, t), WeightEntry("dequantize", w, t) })),
        .. Each("fp8_amax_partial"), .. Each("fp8_quantize"), .. Each("fp8_scale_columns"),
    ]);

    public static IReadOnlyList<KernelFamily> Families { get; } =
        [Elementwise, Reduce, Guidance, Norms, Activations, Rows, Layout, Embeddings, Attention, AttentionBackward, Adam, FlashAttention, Im2Col, Conv, Quant];

    public static IEnumerable<(DType From, DType To)> Casts() =>
        from a in FloatTypes from b in FloatTypes where a != b select (a, b);

    public static string Suffix(DType t) => t switch
    {
        DType.F32 => "f32",
        DType.F16 => "f16",
        DType.BF16 => "bf16",
        _ => throw new ArgumentException($"no kernels for {t}"),
    };

    public static string Entry(string op, DType dtype) => $"{op}_{Suffix(dtype)}";

    public static string Entry(string op, DType from, DType to) => $"{op}_{Suffix(from)}_{Suffix(to)}";

    /// <summary>A quant.cu entry for a weight format and the activations' dtype: dequantize_int8_f16.</summary>
    public static string WeightEntry(string op, DType weight, DType activations) => $"{op}_{weight.Label()}_{Suffix(activations)}";

    /// <summary>A data-movement entry for the element size of <paramref name="dtype"/>: gather_b16 for f16.</summary>
    public static string ByElementSize(string op, DType dtype) => $"{op}_b{dtype.SizeInBytes() * 8}";

    private static IEnumerable<string> Each(string op) => FloatTypes.Select(t => Entry(op, t));
}

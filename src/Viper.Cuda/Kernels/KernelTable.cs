using Viper.Runtime;

namespace Viper.Cuda.Kernels;

/// <summary>One kernel family: its source file under kernels/ and every extern "C" entry point it defines.</summary>
public sealed record KernelFamily(string Source, IReadOnlyList<string> Entries);

/// <summary>
/// Every entry point of kernels/*.cu and its specializations, in one place. Entry names are
/// op_variant_dtype (groupnorm_silu_f16); <see cref="Entry"/> builds them so no launcher spells one by hand.
/// </summary>
public static class KernelTable
{
    private static readonly DType[] FloatTypes = [DType.F32, DType.F16, DType.BF16];

    public static readonly KernelFamily Elementwise = new("elementwise.cu",
    [
        .. Each("add"), .. Each("mul"), .. Each("scale"),
        .. Casts().Select(c => Entry("cast", c.From, c.To)),
    ]);

    public static readonly KernelFamily Reduce = new("reduce.cu", [.. Each("sum_rows")]);

    public static readonly KernelFamily Guidance = new("guidance.cu", [.. Each("guidance_step")]);

    public static IReadOnlyList<KernelFamily> Families { get; } = [Elementwise, Reduce, Guidance];

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

    private static IEnumerable<string> Each(string op) => FloatTypes.Select(t => Entry(op, t));
}

using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>The weight formats the benchmarks compare, by the names `--weights` takes.</summary>
internal static class WeightFormat
{
    public static readonly string[] Names = ["bf16", "int8", "q8_0", "q4_0", "fp8"];

    public static DType? Parse(string name) => name switch
    {
        "bf16" => DType.BF16,
        "int8" => DType.I8,
        "q8_0" => DType.Q8_0,
        "q4_0" => DType.Q4_0,
        "fp8" => DType.F8E4M3,
        _ => null,
    };
}

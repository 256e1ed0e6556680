using System.Text.Json;
using System.Text.Json.Serialization;

namespace Viper.Benchmarks;

/// <summary>
/// The model shapes in benchmarks/shapes.json (embedded), the one list both this project and
/// benchmarks/torch/bench_cpu_ops.py time, so the two columns of RESULTS.md measure the same work.
/// </summary>
public static class Shapes
{
    private static readonly Catalogue Loaded = Load();

    public static IReadOnlyList<Gemm> Gemms => Loaded.Gemm;

    public static IReadOnlyList<Conv> Convs => Loaded.Conv;

    public static IReadOnlyList<Attention> Attentions => Loaded.Attention;

    public sealed record Gemm(string Name, int M, int N, int K)
    {
        public override string ToString() => Name;
    }

    public sealed record Conv(string Name, int H, int W, int Cin, int Cout, int Kernel, int Stride, int[] Padding)
    {
        public override string ToString() => Name;
    }

    public sealed record Attention(string Name, int Batch, int Tq, int Tk, int Heads, [property: JsonPropertyName("head_dim")] int HeadDim, bool Causal)
    {
        public override string ToString() => Name;
    }

    private sealed record Catalogue(Gemm[] Gemm, Conv[] Conv, Attention[] Attention);

    private static Catalogue Load()
    {
        using Stream s = typeof(Shapes).Assembly.GetManifestResourceStream("shapes.json")
            ?? throw new InvalidOperationException("shapes.json is not embedded");
        return JsonSerializer.Deserialize<Catalogue>(s, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }
}

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

    public static IReadOnlyList<Attention> GpuAttentions => Loaded.GpuAttention;

    public static IReadOnlyList<GroupNorm> GpuGroupNorms => Loaded.GpuGroupNorm;

    public static IReadOnlyList<Conv> GpuConvs => Loaded.GpuConv;

    public static IReadOnlyList<Guidance> GpuGuidance => Loaded.GpuGuidance;

    public static IReadOnlyList<Op> GpuOps => Loaded.GpuOps;

    public static IReadOnlyList<Model> CpuModels => Loaded.CpuModels;

    public static IReadOnlyList<PipelineStage> CpuPipeline => Loaded.CpuPipeline;

    public sealed record Gemm(string Name, int M, int N, int K)
    {
        public override string ToString() => Name;
    }

    public sealed record Conv(string Name, int H, int W, int Cin, int Cout, int Kernel, int Stride, int[] Padding, int Batch = 1)
    {
        public override string ToString() => Name;
    }

    public sealed record Attention(string Name, int Batch, int Tq, int Tk, int Heads, [property: JsonPropertyName("head_dim")] int HeadDim, bool Causal)
    {
        public override string ToString() => Name;
    }

    public sealed record GroupNorm(string Name, int Batch, int H, int W, int Channels, int Groups, bool Temb)
    {
        public override string ToString() => Name;
    }

    public sealed record Guidance(string Name, int Elements)
    {
        public override string ToString() => Name;
    }

    /// <summary>One op of the smaller families; what <see cref="Dims"/> means depends on <see cref="Op"/>.</summary>
    public sealed record Op(string Name, [property: JsonPropertyName("op")] string Kind, int[] Dims)
    {
        public override string ToString() => Name;
    }

    /// <summary>A whole model forward; the config fields are repeated for the PyTorch side and checked against the preset.</summary>
    public sealed record Model(string Name, string Component, int Batch, int Tokens,
        [property: JsonPropertyName("hidden_size")] int HiddenSize,
        [property: JsonPropertyName("num_hidden_layers")] int NumHiddenLayers)
    {
        public override string ToString() => Name;
    }

    /// <summary>One stage of a ViPer generation on a pipeline folder written by <c>viper make-tiny</c>.</summary>
    public sealed record PipelineStage(string Name, string Pipeline, string Stage, int Size, int Steps, int Iterations = 5)
    {
        public override string ToString() => Name;
    }

    private sealed record Catalogue(
        [property: JsonPropertyName("cpu_gemm")] Gemm[] Gemm,
        [property: JsonPropertyName("cpu_conv")] Conv[] Conv,
        [property: JsonPropertyName("cpu_attention")] Attention[] Attention,
        [property: JsonPropertyName("gpu_attention")] Attention[] GpuAttention,
        [property: JsonPropertyName("gpu_group_norm")] GroupNorm[] GpuGroupNorm,
        [property: JsonPropertyName("gpu_conv")] Conv[] GpuConv,
        [property: JsonPropertyName("gpu_guidance")] Guidance[] GpuGuidance,
        [property: JsonPropertyName("gpu_ops")] Op[] GpuOps,
        [property: JsonPropertyName("cpu_models")] Model[] CpuModels,
        [property: JsonPropertyName("cpu_pipeline")] PipelineStage[] CpuPipeline);

    private static Catalogue Load()
    {
        using Stream s = typeof(Shapes).Assembly.GetManifestResourceStream("shapes.json")
            ?? throw new InvalidOperationException("shapes.json is not embedded");
        return JsonSerializer.Deserialize<Catalogue>(s, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }
}

using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>A CPU backend on all cores and random f32 inputs, released after each case.</summary>
[Config(typeof(BenchmarkConfig))]
public abstract class CpuBenchmarkBase
{
    protected CpuBackend Backend { get; private set; } = null!;

    protected Tensor[] Inputs { get; private set; } = [];

    [GlobalSetup]
    public void Setup()
    {
        Backend = new CpuBackend();
        Inputs = MakeInputs();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (Tensor t in Inputs)
        {
            t.Dispose();
        }

        Backend.Dispose();
    }

    protected abstract Tensor[] MakeInputs();

    protected Tensor Random(params int[] dims)
    {
        var rng = new Random(1);
        var shape = new Shape(dims);
        float[] values = new float[shape.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return Backend.FromFloats(values, shape);
    }
}

public class GemmBenchmarks : CpuBenchmarkBase
{
    public static IEnumerable<Shapes.Gemm> Cases => Shapes.Gemms;

    [ParamsSource(nameof(Cases))]
    public Shapes.Gemm Case { get; set; } = Shapes.Gemms[0];

    [Benchmark]
    public void Linear() => Backend.Linear(Inputs[0], Inputs[1], Inputs[2]).Dispose();

    protected override Tensor[] MakeInputs() => [Random(Case.M, Case.K), Random(Case.N, Case.K), Random(Case.N)];
}

public class ConvBenchmarks : CpuBenchmarkBase
{
    public static IEnumerable<Shapes.Conv> Cases => Shapes.Convs;

    [ParamsSource(nameof(Cases))]
    public Shapes.Conv Case { get; set; } = Shapes.Convs[0];

    [Benchmark]
    public void Conv2d() => Backend.Conv2d(Inputs[0], Inputs[1], Inputs[2],
        new Conv2dOptions(Case.Stride, new Padding2d(Case.Padding[0], Case.Padding[1], Case.Padding[2], Case.Padding[3]))).Dispose();

    protected override Tensor[] MakeInputs() =>
        [Random(1, Case.H, Case.W, Case.Cin), Random(Case.Cout, Case.Kernel, Case.Kernel, Case.Cin), Random(Case.Cout)];
}

public class AttentionBenchmarks : CpuBenchmarkBase
{
    public static IEnumerable<Shapes.Attention> Cases => Shapes.Attentions;

    [ParamsSource(nameof(Cases))]
    public Shapes.Attention Case { get; set; } = Shapes.Attentions[0];

    [Benchmark]
    public void Attention() => Backend.Attention(Inputs[0], Inputs[1], Inputs[2],
        new AttentionOptions(Case.Heads, Case.Heads, Case.HeadDim) { Causal = Case.Causal }).Dispose();

    protected override Tensor[] MakeInputs()
    {
        int c = Case.Heads * Case.HeadDim;
        return [Random(Case.Batch, Case.Tq, c), Random(Case.Batch, Case.Tk, c), Random(Case.Batch, Case.Tk, c)];
    }
}

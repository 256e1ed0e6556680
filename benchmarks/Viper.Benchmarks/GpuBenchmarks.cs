using BenchmarkDotNet.Attributes;
using Viper.Cuda.Backend;
using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Runtime;
using Viper.Runtime.Guidance;

namespace Viper.Benchmarks;

/// <summary>
/// CUDA backend ops at the real model shapes (shapes.json gpu_*), f16, on the GPU. Each case is captured once as a
/// graph at setup and the benchmark replays it and waits for the device, so the figure is device time for the op
/// (no allocation, no launch-by-launch host overhead), comparable with PyTorch's CUDA-event timings.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public abstract class GpuBenchmarkBase
{
    private DeviceGraph? _graph;

    protected CudaBackend Backend { get; private set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        if (DriverDevice.WhyUnavailable() is { } why)
        {
            throw new InvalidOperationException($"GPU benchmarks need a GPU: {why}");
        }

        Backend = new CudaBackend(new DriverDevice());
        Action step = Prepare();
        step(); // compile the kernel families (NVRTC, cached) outside the capture
        Backend.Device.Synchronize();
        _graph = Backend.Capture(step);
    }

    [Benchmark]
    public void Replay()
    {
        _graph!.Replay();
        Backend.Device.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _graph?.Dispose();
        Backend.Dispose();
    }

    /// <summary>Uploads the case's inputs and returns the op to capture.</summary>
    protected abstract Action Prepare();

    protected Tensor Random(DType dtype, params int[] dims)
    {
        var rng = new Random(1);
        var shape = new Shape(dims);
        float[] values = new float[shape.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return Backend.FromFloats(values, shape, dtype);
    }
}

public class GpuAttentionBenchmarks : GpuBenchmarkBase
{
    public static IEnumerable<Shapes.Attention> Cases => Shapes.GpuAttentions;

    [ParamsSource(nameof(Cases))]
    public Shapes.Attention Case { get; set; } = Shapes.GpuAttentions[0];

    protected override Action Prepare()
    {
        int c = Case.Heads * Case.HeadDim;
        Tensor q = Random(DType.F16, Case.Batch, Case.Tq, c), k = Random(DType.F16, Case.Batch, Case.Tk, c), v = Random(DType.F16, Case.Batch, Case.Tk, c);
        var options = new AttentionOptions(Case.Heads, Case.Heads, Case.HeadDim) { Causal = Case.Causal };
        return () => Backend.Attention(q, k, v, options);
    }
}

public class GpuGroupNormBenchmarks : GpuBenchmarkBase
{
    public static IEnumerable<Shapes.GroupNorm> Cases => Shapes.GpuGroupNorms;

    [ParamsSource(nameof(Cases))]
    public Shapes.GroupNorm Case { get; set; } = Shapes.GpuGroupNorms[0];

    protected override Action Prepare()
    {
        Tensor x = Random(DType.F16, Case.Batch, Case.H, Case.W, Case.Channels);
        Tensor gamma = Random(DType.F16, Case.Channels), beta = Random(DType.F16, Case.Channels);
        Tensor? temb = Case.Temb ? Random(DType.F16, Case.Batch, Case.Channels) : null;
        return () => Backend.Diffusion().GroupNorm(x, Case.Groups, gamma, beta, 1e-5f, silu: true, add: temb);
    }
}

public class GpuConvBenchmarks : GpuBenchmarkBase
{
    public static IEnumerable<Shapes.Conv> Cases => Shapes.GpuConvs;

    [ParamsSource(nameof(Cases))]
    public Shapes.Conv Case { get; set; } = Shapes.GpuConvs[0];

    protected override Action Prepare()
    {
        Tensor x = Random(DType.F16, Case.Batch, Case.H, Case.W, Case.Cin);
        Tensor w = Random(DType.F16, Case.Cout, Case.Kernel, Case.Kernel, Case.Cin), bias = Random(DType.F16, Case.Cout);
        var options = new Conv2dOptions(Case.Stride, new Padding2d(Case.Padding[0], Case.Padding[1], Case.Padding[2], Case.Padding[3]));
        return () => Backend.Conv2d(x, w, bias, options);
    }
}

public class GpuGuidanceBenchmarks : GpuBenchmarkBase
{
    public static IEnumerable<Shapes.Guidance> Cases => Shapes.GpuGuidance;

    [ParamsSource(nameof(Cases))]
    public Shapes.Guidance Case { get; set; } = Shapes.GpuGuidance[0];

    protected override Action Prepare()
    {
        Tensor[] eps = Enumerable.Range(0, 4).Select(_ => Random(DType.F16, Case.Elements)).ToArray();
        Tensor x = Random(DType.F32, Case.Elements);
        var step = new GuidanceStep(5f, 0.85f, 0.85f, SchedulerUpdate.Euler(1.0, 0.9));
        return () => Backend.Diffusion().GuidanceStep(eps[0], eps[1], eps[2], eps[3], x, null, step);
    }
}

/// <summary>The device's copy bandwidth (1 GiB device to device), the yardstick for the memory-bound kernels.</summary>
public class GpuCopyBenchmarks : GpuBenchmarkBase
{
    protected override Action Prepare()
    {
        DeviceBuffer a = Backend.Device.Allocate(1L << 30), b = Backend.Device.Allocate(1L << 30);
        return () => Backend.Device.CopyDeviceToDevice(b, a, 1L << 30);
    }
}

/// <summary>
/// The smaller kernel families (cuBLASLt GEMM with bias, row norms, gated activations, layout, embeddings, casts,
/// argmax) at model shapes, shapes.json gpu_ops; f16 activations.
/// </summary>
public class GpuOpBenchmarks : GpuBenchmarkBase
{
    public static IEnumerable<Shapes.Op> Cases => Shapes.GpuOps;

    [ParamsSource(nameof(Cases))]
    public Shapes.Op Case { get; set; } = Shapes.GpuOps[0];

    protected override Action Prepare()
    {
        int[] d = Case.Dims;
        const DType h = DType.F16;
        switch (Case.Kind)
        {
            case "linear":
            {
                Tensor x = Random(h, d[0], d[2]), w = Random(h, d[1], d[2]), bias = Random(h, d[1]);
                return () => Backend.Linear(x, w, bias);
            }

            case "layer_norm":
            {
                Tensor x = Random(h, d[0], d[1]), g = Random(h, d[1]), b = Random(h, d[1]);
                return () => Backend.LayerNorm(x, g, b, 1e-5f);
            }

            case "rms_norm":
            {
                Tensor x = Random(h, d[0], d[1]), g = Random(h, d[1]);
                return () => Backend.RmsNorm(x, g, 1e-5f);
            }

            case "geglu":
            {
                Tensor x = Random(h, d);
                return () => Backend.Geglu(x);
            }

            case "swiglu":
            {
                Tensor gate = Random(h, d), up = Random(h, d);
                return () => Backend.Swiglu(gate, up);
            }

            case "quick_gelu" or "gelu_tanh" or "silu":
            {
                Tensor x = Random(h, d);
                Activation a = Case.Kind switch { "quick_gelu" => Activation.QuickGelu, "gelu_tanh" => Activation.GeluTanh, _ => Activation.Silu };
                return () => Backend.Activate(x, a);
            }

            case "upsample":
            {
                Tensor x = Random(h, d);
                return () => Backend.UpsampleNearest2x(x);
            }

            case "concat":
            {
                Tensor a = Random(h, d[0], d[1], d[2], d[3]), b = Random(h, d[0], d[1], d[2], d[4]);
                return () => Backend.Concat([a, b], 3);
            }

            case "embedding":
            {
                Tensor table = Random(h, d[1], d[2]);
                Tensor ids = Backend.FromInts(Enumerable.Range(0, d[0]).Select(i => (i * 7919) % d[1]).ToArray(), new Shape(1, d[0]));
                return () => Backend.Embedding(table, ids);
            }

            case "rotary":
            {
                Tensor x = Random(h, 1, d[0], d[1] * d[2]);
                Tensor positions = Backend.FromInts(Enumerable.Range(0, d[0]).ToArray(), new Shape(d[0]));
                return () => Backend.Decoding().Rotary(x, positions, d[2], 10000f);
            }

            case "cast":
            {
                Tensor x = Random(h, d);
                return () => Backend.Cast(x, DType.F32);
            }

            case "argmax":
            {
                Tensor x = Random(h, d);
                return () => Backend.Decoding().Argmax(x);
            }

            case "timestep_embedding":
            {
                Tensor t = Random(DType.F32, d[0]);
                var options = new TimestepEmbeddingOptions(d[1], FlipSinToCos: true, DownscaleFreqShift: 0f);
                return () => Backend.Diffusion().TimestepEmbedding(t, options);
            }

            default:
                throw new InvalidOperationException($"shapes.json gpu_ops: unknown op '{Case.Kind}' in {Case.Name}");
        }
    }
}

using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Models.Clip;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Runtime.Guidance;

namespace Viper.Benchmarks;

/// <summary>
/// The stages of a ViPer generation (reference form, Euler) on the CPU backend, f32, on pipeline folders written by
/// <c>viper make-tiny</c> under $VIPER_BENCH_PIPELINES (benchmarks/run-cpu-pipeline.sh writes them; shapes.json cpu_pipeline).
/// benchmarks/torch/bench_cpu_pipeline.py times the same stages on the same files. One warm-up and five measured runs.
/// </summary>
[Config(typeof(Config))]
public class PipelineBenchmarks : PipelineStageBenchmarks
{
    public static IEnumerable<Shapes.PipelineStage> Cases => Shapes.CpuPipeline.Where(c => c.Iterations == 5);

    [ParamsSource(nameof(Cases))]
    public override Shapes.PipelineStage Case { get; set; } = Cases.First();

    /// <summary>Whole stages take up to tens of seconds on two cores.</summary>
    private sealed class Config() : BenchmarkConfig(warmups: 1, iterations: 5, TimeSpan.FromMinutes(30));
}

/// <summary>The 512² stages (shapes.json "iterations": 3): one run takes minutes, so one warm-up and three measured runs.</summary>
[Config(typeof(Config))]
public class LargePipelineBenchmarks : PipelineStageBenchmarks
{
    public static IEnumerable<Shapes.PipelineStage> Cases => Shapes.CpuPipeline.Where(c => c.Iterations == 3);

    [ParamsSource(nameof(Cases))]
    public override Shapes.PipelineStage Case { get; set; } = Cases.First();

    private sealed class Config() : BenchmarkConfig(warmups: 1, iterations: 3, TimeSpan.FromMinutes(60));
}

/// <summary>Loads one stage's models in the global setup and times the stage (<see cref="PipelineBenchmarks"/>).</summary>
public abstract class PipelineStageBenchmarks
{
    private CpuBackend _backend = null!;
    private readonly List<IDisposable> _owned = [];
    private Action _run = null!;

    public abstract Shapes.PipelineStage Case { get; set; }

    private static string Root => Environment.GetEnvironmentVariable("VIPER_BENCH_PIPELINES") ?? Path.Combine("artifacts", "bench");

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend();
        string folder = Path.Combine(Root, Case.Pipeline);
        if (!File.Exists(Path.Combine(folder, "model_index.json")))
        {
            throw new InvalidOperationException($"{folder} is missing: run `viper make-tiny {Case.Pipeline} --out {folder}` (benchmarks/run-cpu-pipeline.sh does)");
        }

        _run = Case.Stage switch
        {
            "text" => Text(folder),
            "unet_step" => UnetStep(folder),
            "vae_decode" => VaeDecode(folder),
            "image" => Image(folder),
            _ => throw new InvalidOperationException($"unknown stage {Case.Stage}"),
        };
    }

    [Benchmark]
    public void Stage() => _run();

    [GlobalCleanup]
    public void Cleanup()
    {
        _owned.ForEach(o => o.Dispose());
        _owned.Clear();
        _backend.Dispose();
    }

    private Action Text(string folder)
    {
        ClipTextModel text = Own(ClipTextModel.Load(Path.Combine(folder, "text_encoder"), _backend, DType.F32));
        var rng = new Random(2);
        int[][] ids = [.. Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 77).Select(_ => rng.Next(text.Config.VocabSize)).ToArray())];
        return () => text.Encode(ids).Dispose();
    }

    // One UNet call on [uncond, cond, VP+, VP−] and the fused eq. 3 guidance + Euler update of the latents.
    private Action UnetStep(string folder)
    {
        UNet2DConditionModel unet = Own(UNet2DConditionModel.Load(Path.Combine(folder, "unet"), _backend, DType.F32));
        int side = Case.Size / 8;
        Tensor latents = Own(Random(1, side, side, 4));
        Tensor context = Own(Random(4, 77, unet.Config.CrossAttentionDim));
        Tensor timesteps = Own(_backend.FromFloats([500f, 500f, 500f, 500f], new Shape(4)));
        var step = new GuidanceStep(5f, 0.85f, 0.85f, new SchedulerUpdate(1f, -0.05f, 0f));
        return () =>
        {
            using Tensor stacked = _backend.Concat([latents, latents, latents, latents], axis: 0);
            using Tensor eps = unet.Forward(_backend, stacked, timesteps, context);
            using Tensor u = eps.Slice(0, 1), c = eps.Slice(1, 1), plus = eps.Slice(2, 1), minus = eps.Slice(3, 1);
            _backend.Diffusion().GuidanceStep(u, c, plus, minus, latents, null, step);
        };
    }

    private Action VaeDecode(string folder)
    {
        AutoencoderKL vae = Own(AutoencoderKL.Load(Path.Combine(folder, "vae"), _backend, DType.F32));
        int side = Case.Size / 8;
        Tensor latents = Own(Random(1, side, side, 4));
        return () => vae.Decode(_backend, latents).Dispose();
    }

    private Action Image(string folder)
    {
        ViperPipeline pipeline = Own(ViperPipeline.Load(folder, _backend));
        var request = new GenerationRequest
        {
            Prompt = "a lighthouse at dawn", Preference = VisualPreference.FromLists("watercolor, pastel tones, soft light", "photorealism, harsh shadows"),
            Steps = Case.Steps, Scheduler = "euler", Width = Case.Size, Height = Case.Size, Seed = 7,
        };
        return () => pipeline.Generate(request);
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private Tensor Random(params int[] dims)
    {
        var rng = new Random(1);
        var shape = new Shape(dims);
        return _backend.FromFloats([.. Enumerable.Range(0, (int)shape.ElementCount).Select(_ => rng.NextSingle() - 0.5f)], shape);
    }
}

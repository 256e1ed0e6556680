using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// Aesthetic gradients for SDXL at full size on the CPU backend, f32: one personalization (T = 10, lr 1e-4, batch 1, a
/// 77-token prompt) of both text towers as the pipeline runs them — CLIP ViT-L/14 (the <see cref="AestheticBenchmarks"/>
/// folder) toward a 768-value embedding, then OpenCLIP ViT-bigG/14 with its 1280-wide projection toward a 1280-value one,
/// each ending with the penultimate-state forward SDXL conditions on. The bigG tower (random weights, 694 M text
/// parameters) is written once under $VIPER_BENCH_PIPELINES/clip-g-aesthetic with its ids (padded with "!", id 0) and
/// embedding, for benchmarks/torch/bench_cpu_aesthetic.py --folder-g. One measured run: PyTorch's takes minutes.
/// </summary>
[Config(typeof(SdxlAestheticJob))]
public class SdxlAestheticBenchmarks
{
    private CpuBackend _backend = null!;
    private AestheticPersonalizer _clipL = null!, _bigG = null!;
    private int[] _idsL = null!, _idsG = null!;
    private float[] _embeddingL = null!, _embeddingG = null!;
    private AestheticSettings _settings = null!;

    public static string FolderG => Path.Combine(Path.GetDirectoryName(AestheticBenchmarks.Folder)!, "clip-g-aesthetic");

    [GlobalSetup]
    public void Setup()
    {
        AestheticBenchmarks.ExportInputs();
        ExportInputs();
        _backend = new CpuBackend();
        _clipL = AestheticPersonalizer.Load(AestheticBenchmarks.Folder, _backend, DType.F32);
        _bigG = AestheticPersonalizer.Load(FolderG, _backend, DType.F32);
        (_idsL, _embeddingL) = AestheticBenchmarks.ReadInputs(AestheticBenchmarks.Folder);
        (_idsG, _embeddingG) = AestheticBenchmarks.ReadInputs(FolderG);
        _settings = new AestheticSettings(_embeddingL, AestheticBenchmarks.Steps, AestheticBenchmarks.LearningRate) { EmbeddingG = _embeddingG };
    }

    [Benchmark]
    public void Personalize_Sdxl_T10()
    {
        using AestheticResult l = _clipL.Personalize(_idsL, _embeddingL, _settings, null, penultimate: true);
        using AestheticResult g = _bigG.Personalize(_idsG, _embeddingG, _settings, null, penultimate: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _clipL.Dispose();
        _bigG.Dispose();
        _backend.Dispose();
    }

    /// <summary>Writes the bigG text tower with projection (random weights, seed 0) and its inputs once.</summary>
    public static void ExportInputs() =>
        AestheticBenchmarks.ExportTower(new ClipComponent("clip-g-aesthetic", "random OpenCLIP ViT-bigG/14 text tower with projection", ClipTextConfig.OpenClipBigG14, null, true),
            FolderG, seed: 4, padId: 0);

    private sealed class SdxlAestheticJob() : BenchmarkConfig(warmups: 0, iterations: 1, TimeSpan.FromMinutes(30));
}

using System.Diagnostics;
using System.Text.Json;
using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks aesthetic-sdxl BACKEND SIZE OUT.json</c>: one SDXL aesthetic-gradients personalization (T = 10,
/// lr 1e-4, f32) of both text towers on BACKEND (<c>cuda</c>, <c>cuda-emulated</c>, <c>cpu</c>) — <c>full</c>: CLIP
/// ViT-L/14 and OpenCLIP ViT-bigG/14 with their projections, tiled random weights built on the backend (no file); <c>tiny</c>:
/// the tiny CLIP configs (for a rehearsal) — each ending with the penultimate-state forward SDXL uses. A one-step warm-up
/// first (kernels compiled), then one timed run: a single measurement for the GPU machine's prepared run, not a statistic.
/// </summary>
internal static class AestheticSdxlTiming
{
    public static int Run(string[] args)
    {
        (ClipTextConfig L, ClipTextConfig G)? configs = args.Length != 3 ? null : args[1] switch
        {
            "full" => (ClipTextConfig.ClipVitL14, ClipTextConfig.OpenClipBigG14),
            "tiny" => (ClipComponent.TinyText, ClipComponent.TinyTextProjection),
            _ => null,
        };
        if (configs is not { } c || args[0] is not ("cuda" or "cuda-emulated" or "cpu"))
        {
            Console.Error.WriteLine("usage: aesthetic-sdxl cuda|cuda-emulated|cpu full|tiny OUT.json");
            return 1;
        }

        using IBackend backend = args[0] switch
        {
            "cuda" => new CudaBackend(new DriverDevice()),
            "cuda-emulated" => new CudaBackend(new EmulatedDevice()),
            _ => new CpuBackend(),
        };
        using var clipL = new AestheticPersonalizer(new ClipTextModel(new TiledRandomWeights(backend, DType.F32).Root, c.L, withProjection: true), "random");
        using var bigG = new AestheticPersonalizer(new ClipTextModel(new TiledRandomWeights(backend, DType.F32).Root, c.G, withProjection: true), "random");
        var rng = new Random(5);
        int[] Ids(ClipTextConfig config, int pad) =>
            [0, .. Enumerable.Range(0, 12).Select(_ => rng.Next(3, config.VocabSize - 1)), config.VocabSize - 1, .. Enumerable.Repeat(pad, config.MaxPositionEmbeddings - 14)];
        float[] Embedding(int width) => Enumerable.Range(0, width).Select(_ => (rng.NextSingle() * 2) - 1).ToArray();
        (int[] idsL, int[] idsG) = (Ids(c.L, c.L.VocabSize - 1), Ids(c.G, 0));
        (float[] embL, float[] embG) = (Embedding(c.L.ProjectionDim), Embedding(c.G.ProjectionDim));
        var settings = new AestheticSettings(embL, Steps: 10, LearningRate: 1e-4) { EmbeddingG = embG };

        void Personalize(AestheticSettings s)
        {
            using AestheticResult l = clipL.Personalize(idsL, embL, s, null, penultimate: true);
            using AestheticResult g = bigG.Personalize(idsG, embG, s, null, penultimate: true);
            _ = (l.TextEmbeds!.ToFloats()[0], g.TextEmbeds!.ToFloats()[0]); // read back: the device work is done
        }

        Personalize(settings with { Steps = 1 });
        var clock = Stopwatch.StartNew();
        Personalize(settings);
        double ms = clock.Elapsed.TotalMilliseconds;
        string json = JsonSerializer.Serialize(new { backend = backend.Name, size = args[1], steps = 10, personalize_sdxl_ms = Math.Round(ms, 1) });
        File.WriteAllText(args[2], json);
        Console.WriteLine(json);
        return 0;
    }
}

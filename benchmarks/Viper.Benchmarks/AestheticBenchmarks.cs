using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Benchmarks;

/// <summary>
/// Aesthetic gradients at full size on the CPU backend, f32: one personalization (T = 10 Adam steps at lr 1e-4, batch 1,
/// a 77-token prompt) of a CLIP ViT-L/14 text tower with its 768-wide projection — 11 forwards, 10 backwards, 10 Adam
/// updates and the bit-exact restore of the weights. Random weights in the real layout are written once under
/// $VIPER_BENCH_PIPELINES/clip-l-aesthetic with the prompt ids and embedding (<see cref="ExportInputs"/>), so
/// benchmarks/torch/bench_cpu_aesthetic.py runs PyTorch autograd + torch.optim.Adam on the same tensors.
/// </summary>
[Config(typeof(AestheticJob))]
public class AestheticBenchmarks
{
    public const int Steps = 10;
    public const double LearningRate = 1e-4;

    private CpuBackend _backend = null!;
    private AestheticPersonalizer _personalizer = null!;
    private int[] _ids = null!;
    private AestheticSettings _settings = null!;

    public static string Folder => Path.Combine(Environment.GetEnvironmentVariable("VIPER_BENCH_PIPELINES") ?? Path.Combine("artifacts", "bench"), "clip-l-aesthetic");

    [GlobalSetup]
    public void Setup()
    {
        ExportInputs();
        _backend = new CpuBackend();
        _personalizer = AestheticPersonalizer.Load(Folder, _backend, DType.F32);
        (_ids, float[] embedding) = ReadInputs(Folder);
        _settings = new AestheticSettings(embedding, Steps, LearningRate);
    }

    [Benchmark]
    public void Personalize_T10()
    {
        using AestheticResult result = _personalizer.Personalize(_ids, _settings);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _personalizer.Dispose();
        _backend.Dispose();
    }

    /// <summary>
    /// Writes the CLIP-L folder (random weights, seed 0) and inputs.safetensors — a prompt's 77 ids (BOS, 12 words, EOS, EOS
    /// padding, as CLIPTokenizer pads for SD1.x) and a random 768-value embedding — once.
    /// </summary>
    public static void ExportInputs() =>
        ExportTower(new ClipComponent("clip-l-aesthetic", "random CLIP ViT-L/14 text tower with projection", ClipTextConfig.ClipVitL14, null, true),
            Folder, seed: 3, padId: 49407);

    /// <summary>
    /// Writes a text tower with projection (random weights, seed 0) into <paramref name="folder"/> and its inputs once: a
    /// prompt's 77 ids — BOS, 12 random words, EOS, then <paramref name="padId"/> (EOS for CLIP-L as CLIPTokenizer pads for
    /// SD1.x, 0 for OpenCLIP bigG) — and a random projection-sized embedding, both drawn from <paramref name="seed"/>.
    /// </summary>
    public static void ExportTower(ClipComponent component, string folder, int seed, int padId)
    {
        if (File.Exists(Path.Combine(folder, "inputs.safetensors")))
        {
            return;
        }

        using (var cpu = new CpuBackend())
        {
            TinyCheckpoint.Write(component, folder, cpu);
        }

        var rng = new Random(seed);
        int[] ids = [49406, .. Enumerable.Range(0, 12).Select(_ => rng.Next(256, 49406)), 49407, .. Enumerable.Repeat(padId, 63)];
        float[] embedding = Enumerable.Range(0, component.Text!.ProjectionDim).Select(_ => (rng.NextSingle() * 2) - 1).ToArray();
        WriteInputs(folder, ids, embedding);
    }

    public static void WriteInputs(string folder, int[] ids, float[] embedding) =>
        SafeTensorsWriter.Write(Path.Combine(folder, "inputs.safetensors"),
        [
            new TensorData("input_ids", DType.I64, new Shape(1, ids.Length), ids.SelectMany(id => BitConverter.GetBytes((long)id)).ToArray()),
            new TensorData(AestheticEmbedding.TensorName, DType.F32, new Shape(1, embedding.Length), HostTensors.EncodeFloats(embedding, DType.F32)),
        ]);

    public static (int[] Ids, float[] Embedding) ReadInputs(string folder)
    {
        using SafeTensorsFile inputs = SafeTensorsFile.Open(Path.Combine(folder, "inputs.safetensors"));
        int[] ids = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(inputs.Bytes("input_ids")).ToArray().Select(v => (int)v).ToArray();
        return (ids, HostTensors.DecodeFloats(inputs.Bytes(AestheticEmbedding.TensorName), DType.F32));
    }

    private sealed class AestheticJob() : BenchmarkConfig(warmups: 1, iterations: 3, TimeSpan.FromMinutes(20));
}

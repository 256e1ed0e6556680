using System.Text.Json;
using Viper.Backends.Cpu;
using Viper.Imaging;
using Viper.Models.Unet;
using Viper.Pipelines;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Benchmarks;

/// <summary>
/// <c>Viper.Benchmarks format-accuracy REFS_IDEFICS2 SD15_FOLDER OUT.json</c>: what each weight format changes against the
/// same model with f32 weights, on the CPU backend with f32 activations — measured, not asserted (random weights say nothing
/// about a trained model's quality, only how far each format moves the numbers):
/// the tiny reference IDEFICS2 (../shared/refs/idefics2): the proxy metric's score and 24 greedy extractor tokens (leading
/// ids equal to f32's); the medium random IDEFICS2 of the benchmarks: the extractor prompt's last 16 positions' logits
/// (largest |difference|, mean KL(f32 ‖ format)); the SD1.5-shaped random UNet (make-tiny sd15-random): ε at t = 500 on
/// 32×32 latents (‖Δε‖/‖ε‖) and a 256² 4-step Euler image (mean and largest |difference| in 8-bit levels).
/// </summary>
internal static class FormatAccuracy
{
    private static readonly string[] Formats = ["f32", "bf16", "int8", "q8_0", "q4_0", "fp8"];

    public static int Run(string[] args)
    {
        string refs = args[0], sd15 = args[1];
        using var cpu = new CpuBackend();
        var rows = new List<Dictionary<string, object>>();
        (double score, int[] ids) reference = default;
        float[][]? referenceLogits = null;
        float[]? referenceEps = null;
        byte[]? referenceImage = null;
        foreach (string name in Formats)
        {
            DType? format = name == "f32" ? null : WeightFormat.Parse(name);
            var (score, ids) = TinyIdefics2(refs, cpu, format);
            float[][] logits = MediumLogits(cpu, format);
            float[] eps = UnetEps(sd15, cpu, format);
            byte[] image = Image(sd15, cpu, format);
            if (name == "f32")
            {
                (reference, referenceLogits, referenceEps, referenceImage) = ((score, ids), logits, eps, image);
            }

            rows.Add(new Dictionary<string, object>
            {
                ["format"] = name,
                ["metric_score"] = score,
                ["metric_score_f32"] = reference.score,
                ["greedy_ids_equal"] = ids.Zip(reference.ids!).TakeWhile(p => p.First == p.Second).Count(),
                ["greedy_ids"] = ids.Length,
                ["logit_max_abs_error"] = logits.Zip(referenceLogits!).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second))),
                ["logit_mean_kl"] = logits.Zip(referenceLogits!).Average(p => Kl(p.Second, p.First)),
                ["unet_eps_relative_error"] = RelativeError(eps, referenceEps!),
                ["image_mean_level_difference"] = image.Zip(referenceImage!).Average(p => Math.Abs(p.First - p.Second)),
                ["image_max_level_difference"] = image.Zip(referenceImage!).Max(p => Math.Abs(p.First - p.Second)),
            });
            Console.WriteLine(JsonSerializer.Serialize(rows[^1]));
        }

        File.WriteAllText(args[2], JsonSerializer.Serialize(rows));
        return 0;
    }

    private static (double Score, int[] Ids) TinyIdefics2(string refs, IBackend backend, DType? format)
    {
        using var inputs = SafeTensorsFile.Open(Path.Combine(refs, "inputs.safetensors"));
        RgbImage[] images = [.. Enumerable.Range(0, 5).Select(i =>
        {
            Shape hwc = inputs.Entry($"image{i}_uint8_hwc").Shape;
            return new RgbImage(hwc[1], hwc[0], inputs.Bytes($"image{i}_uint8_hwc").ToArray());
        })];
        string adapter = Path.Combine(refs, "lora_adapter");
        using ProxyMetric metric = ProxyMetric.Load(refs, adapter, backend, DType.F32, linearWeights: format);
        double score = metric.Score([images[0], images[2]], [images[1], images[3]], [images[4]])[0];
        using Idefics2Chat chat = Idefics2Chat.Load(refs, backend, DType.F32, new ChatLoadOptions
        {
            AdapterFolder = adapter, Processor = PreferenceExtractor.ViperImageSettings, LinearWeights = format,
        });
        ChatPrompt prompt = chat.Prepare(PreferenceExtractor.Prompt(["I love the warm light.", "Too busy, too many colours."]), [images[0], images[1]]);
        using ChatSession session = chat.Prefill(prompt, 24);
        int[] ids = [.. session.Generate(new ChatOptions { MaxNewTokens = 24, RepetitionPenalty = 0.99f }).Select(t => t.Id)];
        return (score, ids);
    }

    private static float[][] MediumLogits(IBackend backend, DType? format)
    {
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Workload.EnsureFolder(), backend, DType.F32, new ChatLoadOptions
        {
            Processor = PreferenceExtractor.ViperImageSettings, LinearWeights = format,
        });
        ChatPrompt prompt = Idefics2Workload.ExtractorPrompt(chat);
        return [.. chat.PositionLogits(prompt, [.. Enumerable.Range(-16, 16)])];
    }

    private static float[] UnetEps(string sd15, IBackend backend, DType? format)
    {
        using UNet2DConditionModel unet = UNet2DConditionModel.Load(Path.Combine(sd15, "unet"), backend, DType.F32, linearWeights: format);
        var rng = new Random(5);
        float[] Noise(int count) => [.. Enumerable.Range(0, count).Select(_ => (rng.NextSingle() * 2) - 1)];
        using Tensor sample = backend.FromFloats(Noise(32 * 32 * 4), new Shape(1, 32, 32, 4));
        using Tensor t = backend.FromFloats([500f], new Shape(1));
        using Tensor context = backend.FromFloats(Noise(77 * 768), new Shape(1, 77, 768));
        using Tensor eps = unet.Forward(backend, sample, t, context);
        return eps.ToFloats();
    }

    private static byte[] Image(string sd15, IBackend backend, DType? format)
    {
        using ViperPipeline pipeline = ViperPipeline.Load(sd15, backend, new PipelineOptions { LinearWeights = format });
        GenerationResult result = pipeline.Generate(new GenerationRequest { Prompt = "a lighthouse at dawn", Width = 256, Height = 256, Steps = 4, Seed = 7 });
        return result.Images[0].Pixels;
    }

    private static double Kl(float[] p, float[] q)
    {
        double[] lp = LogSoftmax(p), lq = LogSoftmax(q);
        return lp.Zip(lq).Sum(x => Math.Exp(x.First) * (x.First - x.Second));
    }

    private static double[] LogSoftmax(float[] x)
    {
        double max = x.Max(), sum = x.Sum(v => Math.Exp(v - max));
        return [.. x.Select(v => v - max - Math.Log(sum))];
    }

    private static double RelativeError(float[] a, float[] b) =>
        Math.Sqrt(a.Zip(b).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)) / b.Sum(v => (double)v * v));
}

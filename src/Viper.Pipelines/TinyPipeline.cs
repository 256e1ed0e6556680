using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Schedulers;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>
/// Writes complete random-weight diffusers pipeline folders in the real layouts (model_index.json, tokenizer(s),
/// text encoder(s), unet, vae, scheduler), small enough to generate with on a CPU in seconds: an SD1.x-style pipeline,
/// an SDXL-style base (two encoders, text_time conditioning) and its refiner (aesthetic-score time ids). <c>sd15-random</c>
/// is SD1.5 at full size (CLIP-L, the 859M-parameter UNet, the VAE) with random weights, 4.3 GB: the benchmarks' medium case.
/// </summary>
public static class TinyPipeline
{
    public static IReadOnlyList<string> Names { get; } = ["tiny-sd", "tiny-sdxl", "tiny-sdxl-refiner", "sd15-random"];

    private static JsonSerializerOptions Json => DiffusersConfigFile.Json;

    private static ClipTextConfig Text(int hidden, bool gelu) => new()
    {
        HiddenSize = hidden, IntermediateSize = 2 * hidden, ProjectionDim = 1280, NumHiddenLayers = 2, NumAttentionHeads = 4,
        HiddenAct = gelu ? "gelu" : "quick_gelu", EosTokenId = 2,
    };

    private static readonly AutoencoderKLConfig Vae = new()
    {
        BlockOutChannels = [16, 32, 32, 32], LayersPerBlock = 1, NormNumGroups = 8, ScalingFactor = 0.18215,
        DownBlockTypes = [.. Enumerable.Repeat("DownEncoderBlock2D", 4)], UpBlockTypes = [.. Enumerable.Repeat("UpDecoderBlock2D", 4)],
    };

    /// <summary>
    /// Writes pipeline <paramref name="name"/> to <paramref name="folder"/>; the CLIP tokenizer files come from
    /// <paramref name="tokenizerFolder"/>. With <paramref name="variant"/> (fp16, bf16) every weight file is written only
    /// as that variant (<c>diffusion_pytorch_model.fp16.safetensors</c>, half-precision tensors), as variant-only downloads are.
    /// </summary>
    public static void Write(string name, string folder, string tokenizerFolder, IBackend backend, int seed = 0, string? variant = null)
    {
        if (!Names.Contains(name))
        {
            throw new ArgumentException($"unknown pipeline '{name}'; known: {string.Join(", ", Names)}");
        }

        Directory.CreateDirectory(folder);
        if (variant is not null && !TinyCheckpoint.Variants.ContainsKey(variant))
        {
            throw new ArgumentException($"unknown weight variant '{variant}' ({string.Join(", ", TinyCheckpoint.Variants.Keys)})", nameof(variant));
        }

        bool full = name == "sd15-random";
        bool xl = name is "tiny-sdxl" or "tiny-sdxl-refiner";
        bool refiner = name == "tiny-sdxl-refiner";
        var index = new JsonObject
        {
            ["_class_name"] = refiner ? "StableDiffusionXLImg2ImgPipeline" : xl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline",
            ["_diffusers_version"] = DiffusersConfigFile.Version,
            ["feature_extractor"] = new JsonArray(null, null),
            ["image_encoder"] = new JsonArray(null, null),
        };
        if (xl)
        {
            // As the published SDXL base (true) and refiner (false) folders record it.
            index["force_zeros_for_empty_prompt"] = !refiner;
        }
        else
        {
            index["requires_safety_checker"] = false;
            index["safety_checker"] = new JsonArray(null, null);
        }

        int contextDim = 0;
        if (!refiner)
        {
            WriteText(folder, "text_encoder", full ? ClipTextConfig.ClipVitL14 : Text(32, gelu: false), projection: false, backend, seed + 1, variant);
            Tokenizers.Copy(tokenizerFolder, Path.Combine(folder, "tokenizer"), pad: null);
            index["text_encoder"] = new JsonArray("transformers", "CLIPTextModel");
            index["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer");
            contextDim += full ? ClipTextConfig.ClipVitL14.HiddenSize : 32;
        }

        if (xl)
        {
            WriteText(folder, "text_encoder_2", Text(32, gelu: true), projection: true, backend, seed + 2, variant);
            Tokenizers.Copy(tokenizerFolder, Path.Combine(folder, "tokenizer_2"), pad: "!");
            index["text_encoder_2"] = new JsonArray("transformers", "CLIPTextModelWithProjection");
            index["tokenizer_2"] = new JsonArray("transformers", "CLIPTokenizer");
            contextDim += 32;
        }

        UNet2DConditionConfig unet = full ? UNet2DConditionConfig.StableDiffusion15 : xl ? UnetXl(contextDim, refiner) : UnetSd(contextDim);
        WriteDiffusers(folder, "unet", "UNet2DConditionModel", unet, w => new UNet2DConditionModel(w.Root, unet), backend, seed + 3, variant);
        AutoencoderKLConfig vae = full ? AutoencoderKLConfig.StableDiffusion : Vae with { ScalingFactor = xl ? 0.13025 : 0.18215, ForceUpcast = xl };
        WriteDiffusers(folder, "vae", "AutoencoderKL", vae, w => new AutoencoderKL(w.Root, vae), backend, seed + 4, variant);
        SchedulerConfig scheduler = xl ? SchedulerConfig.StableDiffusionXl
            : full ? SchedulerConfig.StableDiffusion : SchedulerConfig.StableDiffusion with { ClassName = "DDIMScheduler" };
        Directory.CreateDirectory(Path.Combine(folder, "scheduler"));
        DiffusersConfigFile.Write(Path.Combine(folder, "scheduler", "scheduler_config.json"), scheduler, scheduler.ClassName);
        index["unet"] = new JsonArray("diffusers", "UNet2DConditionModel");
        index["vae"] = new JsonArray("diffusers", "AutoencoderKL");
        index["scheduler"] = new JsonArray("diffusers", scheduler.ClassName);
        if (refiner)
        {
            index["requires_aesthetics_score"] = true;
        }

        index = new JsonObject(index.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        File.WriteAllText(Path.Combine(folder, "model_index.json"), index.ToJsonString(Json));
    }

    private static UNet2DConditionConfig UnetSd(int contextDim) => new()
    {
        BlockOutChannels = [32, 64], DownBlockTypes = ["CrossAttnDownBlock2D", "DownBlock2D"], UpBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D"],
        LayersPerBlock = 1, AttentionHeadDim = [2], CrossAttentionDim = contextDim, NormNumGroups = 8, SampleSize = 8,
    };

    private static UNet2DConditionConfig UnetXl(int contextDim, bool refiner) => new()
    {
        BlockOutChannels = [32, 64], DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D"], UpBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D"],
        LayersPerBlock = 1, AttentionHeadDim = [2, 4], TransformerLayersPerBlock = [1, 2], CrossAttentionDim = contextDim,
        UseLinearProjection = true, NormNumGroups = 8, SampleSize = 8, AdditionEmbedType = "text_time", AdditionTimeEmbedDim = 256,
        ProjectionClassEmbeddingsInputDim = 1280 + ((refiner ? 5 : 6) * 256),
    };

    // A text encoder folder is a tiny CLIP checkpoint: config.json + model.safetensors, as TinyCheckpoint writes them.
    private static void WriteText(string folder, string component, ClipTextConfig config, bool projection, IBackend backend, int seed, string? variant) =>
        TinyCheckpoint.Write(new ClipComponent(component, $"tiny pipeline {component}", config, null, projection),
            Path.Combine(folder, component), backend, seed, variant);

    private static void WriteDiffusers<TConfig>(string folder, string component, string className, TConfig config,
        Func<RandomWeights, IDisposable> build, IBackend backend, int seed, string? variant)
    {
        var weights = new RandomWeights(backend, DType.F32, seed);
        string dir = Path.Combine(folder, component);
        Directory.CreateDirectory(dir);
        using (build(weights))
        {
            DiffusersConfigFile.Write(Path.Combine(dir, "config.json"), config, className);
            TinyCheckpoint.WriteWeights(dir, "diffusion_pytorch_model", weights.Recorded, variant, $"tiny {component}, seed {seed}");
        }
    }
}

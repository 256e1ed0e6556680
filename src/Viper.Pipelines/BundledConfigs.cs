using System.Text.Json.Nodes;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Models.SingleFile;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>
/// The config folder a single file of each family needs when no --config is given, written from the engine's presets of
/// the reference downloads (as diffusers 0.29.2's from_single_file fetches them): sd1 = stable-diffusion-v1-5 (PNDM,
/// epsilon), sd2 = stable-diffusion-2-1 (768-v: DDIM, v_prediction — pass the epsilon prediction for 2.x-base files),
/// sdxl = stable-diffusion-xl-base-1.0 (Euler), sdxl-refiner = stable-diffusion-xl-refiner-1.0, each with the CLIP
/// tokenizer (OpenCLIP towers pad with "!"). Written into a fresh folder per load, so it never goes stale.
/// </summary>
public static class BundledConfigs
{
    /// <summary>The CLIP tokenizer files shipped beside the engine (assets/clip-tokenizer).</summary>
    public static string Tokenizer => Path.Combine(AppContext.BaseDirectory, "assets", "clip-tokenizer");

    public static void Write(SingleFileFamily family, string folder, string? tokenizerFolder = null)
    {
        tokenizerFolder ??= Tokenizer;
        Directory.CreateDirectory(folder);
        bool xl = family is SingleFileFamily.StableDiffusionXl or SingleFileFamily.StableDiffusionXlRefiner;
        bool refiner = family == SingleFileFamily.StableDiffusionXlRefiner;
        var index = new JsonObject
        {
            ["_class_name"] = refiner ? "StableDiffusionXLImg2ImgPipeline" : xl ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline",
            ["_diffusers_version"] = DiffusersConfigFile.Version,
        };
        if (xl)
        {
            index["force_zeros_for_empty_prompt"] = !refiner;
            index["requires_aesthetics_score"] = refiner;
        }
        else
        {
            index["requires_safety_checker"] = false;
        }

        (UNet2DConditionConfig unet, ClipTextConfig? text, SchedulerConfig scheduler) = family switch
        {
            SingleFileFamily.StableDiffusion1 => (UNet2DConditionConfig.StableDiffusion15, ClipTextConfig.ClipVitL14, SchedulerConfig.StableDiffusion),
            SingleFileFamily.StableDiffusion2 => (UNet2DConditionConfig.StableDiffusion21, ClipTextConfig.OpenClipVitH14,
                SchedulerConfig.StableDiffusion with { ClassName = "DDIMScheduler", PredictionType = "v_prediction" }),
            SingleFileFamily.StableDiffusionXl => (UNet2DConditionConfig.StableDiffusionXlBase, ClipTextConfig.ClipVitL14, SchedulerConfig.StableDiffusionXl),
            _ => (UNet2DConditionConfig.StableDiffusionXlRefiner, (ClipTextConfig?)null, SchedulerConfig.StableDiffusionXl),
        };
        if (text is not null)
        {
            Text(folder, "text_encoder", text, projection: false);
            Tokenizers.Copy(tokenizerFolder, Path.Combine(folder, "tokenizer"), family == SingleFileFamily.StableDiffusion2 ? "!" : null);
            index["text_encoder"] = new JsonArray("transformers", "CLIPTextModel");
            index["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer");
        }

        if (xl)
        {
            Text(folder, "text_encoder_2", ClipTextConfig.OpenClipBigG14, projection: true);
            Tokenizers.Copy(tokenizerFolder, Path.Combine(folder, "tokenizer_2"), "!");
            index["text_encoder_2"] = new JsonArray("transformers", "CLIPTextModelWithProjection");
            index["tokenizer_2"] = new JsonArray("transformers", "CLIPTokenizer");
        }

        Config(folder, "unet", unet, "UNet2DConditionModel");
        Config(folder, "vae", xl ? AutoencoderKLConfig.StableDiffusionXl : AutoencoderKLConfig.StableDiffusion, "AutoencoderKL");
        Config(folder, "scheduler", scheduler, scheduler.ClassName, "scheduler_config.json");
        index["unet"] = new JsonArray("diffusers", "UNet2DConditionModel");
        index["vae"] = new JsonArray("diffusers", "AutoencoderKL");
        index["scheduler"] = new JsonArray("diffusers", scheduler.ClassName);
        File.WriteAllText(Path.Combine(folder, "model_index.json"), index.ToJsonString(DiffusersConfigFile.Json));
    }

    private static void Text(string folder, string component, ClipTextConfig config, bool projection)
    {
        Directory.CreateDirectory(Path.Combine(folder, component));
        File.WriteAllText(Path.Combine(folder, component, "config.json"), new ClipComponent(component, "bundled", config, null, projection).ConfigJson());
    }

    private static void Config<T>(string folder, string component, T config, string className, string file = "config.json")
    {
        Directory.CreateDirectory(Path.Combine(folder, component));
        DiffusersConfigFile.Write(Path.Combine(folder, component, file), config, className);
    }
}

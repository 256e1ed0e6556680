namespace Viper.Models.SingleFile;

/// <summary>The Stable Diffusion families a single-file (original-layout) checkpoint can hold.</summary>
public enum SingleFileFamily
{
    /// <summary>SD1.x: CLIP ViT-L text under <c>cond_stage_model.transformer.</c></summary>
    StableDiffusion1,

    /// <summary>SD2.x: OpenCLIP ViT-H text under <c>cond_stage_model.model.</c></summary>
    StableDiffusion2,

    /// <summary>SDXL base: CLIP-L under <c>conditioner.embedders.0.transformer.</c>, OpenCLIP bigG under <c>conditioner.embedders.1.model.</c></summary>
    StableDiffusionXl,

    /// <summary>SDXL refiner: OpenCLIP bigG only, under <c>conditioner.embedders.0.model.</c></summary>
    StableDiffusionXlRefiner,
}

public static class SingleFileFamilies
{
    /// <summary>The name the CLI and the bundled config folders use: sd1, sd2, sdxl, sdxl-refiner.</summary>
    public static string Name(this SingleFileFamily family) => family switch
    {
        SingleFileFamily.StableDiffusion1 => "sd1",
        SingleFileFamily.StableDiffusion2 => "sd2",
        SingleFileFamily.StableDiffusionXl => "sdxl",
        _ => "sdxl-refiner",
    };

    /// <summary>
    /// The family from the keys, as diffusers 0.29.2's <c>infer_diffusers_model_type</c> decides it — but by which text
    /// towers are present rather than by one key of a fixed layer index (resblocks.9, resblocks.23), so that checkpoints
    /// with fewer layers (the tiny test ones) are recognised too. Null when no Stable Diffusion layout is found.
    /// </summary>
    public static SingleFileFamily? Detect(IEnumerable<string> names)
    {
        bool unet = false, clip = false, openClip = false, xl0 = false, xl0OpenClip = false, xl1 = false;
        foreach (string n in names)
        {
            unet |= n.StartsWith("model.diffusion_model.", StringComparison.Ordinal);
            clip |= n.StartsWith("cond_stage_model.transformer.", StringComparison.Ordinal);
            openClip |= n.StartsWith("cond_stage_model.model.", StringComparison.Ordinal);
            xl0 |= n.StartsWith("conditioner.embedders.0.transformer.", StringComparison.Ordinal);
            xl0OpenClip |= n.StartsWith("conditioner.embedders.0.model.", StringComparison.Ordinal);
            xl1 |= n.StartsWith("conditioner.embedders.1.model.", StringComparison.Ordinal);
        }

        if (!unet)
        {
            return null;
        }

        return (xl1, xl0OpenClip, openClip, clip, xl0) switch
        {
            (true, _, _, _, _) => SingleFileFamily.StableDiffusionXl,
            (_, true, _, _, _) => SingleFileFamily.StableDiffusionXlRefiner,
            (_, _, true, _, _) => SingleFileFamily.StableDiffusion2,
            (_, _, _, true, _) => SingleFileFamily.StableDiffusion1,
            _ => null,
        };
    }
}

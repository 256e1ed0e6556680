using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>
/// A diffusers model folder of a published pipeline (its <c>unet</c> or <c>vae</c>): the config preset the engine builds
/// it from and the checkpoint it describes. <see cref="Known"/> is the list behind weights-manifest/sd*-unet/vae.json.
/// </summary>
public sealed record DiffusersComponent(string Name, string Checkpoint, Func<WeightScope, IDisposable> Build)
{
    private const string Sd15 = "stable-diffusion-v1-5/stable-diffusion-v1-5", Sd21 = "stabilityai/stable-diffusion-2-1",
        SdxlBase = "stabilityai/stable-diffusion-xl-base-1.0", SdxlRefiner = "stabilityai/stable-diffusion-xl-refiner-1.0";

    public static IReadOnlyList<DiffusersComponent> Known { get; } =
    [
        Unet("sd15-unet", Sd15, UNet2DConditionConfig.StableDiffusion15),
        Vae("sd15-vae", Sd15, AutoencoderKLConfig.StableDiffusion),
        Unet("sd21-unet", Sd21, UNet2DConditionConfig.StableDiffusion21),
        Vae("sd21-vae", Sd21, AutoencoderKLConfig.StableDiffusion),
        Unet("sdxl-unet", SdxlBase, UNet2DConditionConfig.StableDiffusionXlBase),
        Vae("sdxl-vae", SdxlBase, AutoencoderKLConfig.StableDiffusionXl),
        Unet("sdxl-refiner-unet", SdxlRefiner, UNet2DConditionConfig.StableDiffusionXlRefiner),
        Vae("sdxl-refiner-vae", SdxlRefiner, AutoencoderKLConfig.StableDiffusionXl),
    ];

    public static DiffusersComponent? Find(string name) => Known.FirstOrDefault(c => c.Name == name);

    /// <summary>Every tensor the model reads, with its shape, as the published f32 file stores it — allocating nothing.</summary>
    public WeightsManifest Manifest(IBackend backend)
    {
        var recorder = new ShapeRecorder(backend);
        using IDisposable model = Build(recorder.Root);
        return recorder.ToManifest(Checkpoint, "diffusion_pytorch_model.safetensors");
    }

    private static DiffusersComponent Unet(string name, string repository, UNet2DConditionConfig config) =>
        new(name, repository + "/unet", root => new UNet2DConditionModel(root, config));

    private static DiffusersComponent Vae(string name, string repository, AutoencoderKLConfig config) =>
        new(name, repository + "/vae", root => new AutoencoderKL(root, config));
}

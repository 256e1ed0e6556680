using Viper.Imaging;

namespace Viper.Pipelines;

/// <summary>
/// The state after one denoising step, as diffusers' <c>callback_on_step_end</c> sees it: the stage ("base",
/// "refiner"), the step's index in the schedule, its timestep and the current latents (diffusers' NCHW order, a copy).
/// </summary>
public sealed class StepState(string stage, int index, int step, int totalSteps, double timestep, float[] latents, int[] shape, LatentPreview? preview)
{
    public string Stage { get; } = stage;

    /// <summary>The step's index in the scheduler's timesteps (diffusers' <c>i</c>).</summary>
    public int Index { get; } = index;

    /// <summary>Steps done in this stage, 1-based, out of <see cref="TotalSteps"/>.</summary>
    public int Step { get; } = step;

    public int TotalSteps { get; } = totalSteps;

    public double Timestep { get; } = timestep;

    /// <summary>(Batch, C, H/f, W/f) latents, the same space diffusers' pipelines hold them in (before 1/scaling_factor).</summary>
    public float[] Latents { get; } = latents;

    public IReadOnlyList<int> Shape { get; } = shape;

    /// <summary>
    /// A cheap preview of each image at latent resolution (a linear latent→RGB map, no VAE); null when the pipeline's
    /// latent format has no such map.
    /// </summary>
    public IReadOnlyList<RgbImage>? Preview() => preview?.ToImages(Latents, Shape[0], Shape[1], Shape[2], Shape[3]);
}

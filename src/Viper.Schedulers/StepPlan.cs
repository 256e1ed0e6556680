using Viper.Runtime.Guidance;

namespace Viper.Schedulers;

/// <summary>What besides x and the model output enters a step.</summary>
public enum StepExtra
{
    None,

    /// <summary>Fresh standard-normal noise of the latents' shape (ancestral and DDPM sampling).</summary>
    Noise,

    /// <summary>The previous step's predicted x₀ (DPM-Solver++ 2M's second-order term).</summary>
    PreviousPrediction,
}

/// <summary>
/// One scheduler step as linear maps of the current sample x and the model output o (ε or v):
/// x₀ = X0FromSample·x + X0FromOutput·o, and x_next = Update.A·x + Update.B·o + Update.C·extra. Every supported sampler
/// reduces to this form, which is what the fused guidance kernel applies on the device after combining the UNet outputs.
/// <see cref="DrawsNoise"/> says the diffusers step consumes one randn draw of the latents' shape even when C is zero
/// (Euler discrete does), so the generator stays in step with diffusers. With <see cref="Clip"/> (DDIM/DDPM's clip_sample)
/// the step is not linear: x_next = Update.A·x + Update.B·o + Clip.Weight·clamp(x₀, ±Clip.Range) + Update.C·extra.
/// </summary>
public readonly record struct StepPlan(double X0FromSample, double X0FromOutput, SchedulerUpdate Update, StepExtra Extra, bool DrawsNoise,
    ClippedPrediction? Clip = null);

/// <summary>The clamped-x₀ term of a clip_sample step: Weight·clamp(x₀, −Range, Range).</summary>
public readonly record struct ClippedPrediction(double Range, double Weight);

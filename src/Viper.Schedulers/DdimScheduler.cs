namespace Viper.Schedulers;

/// <summary>
/// diffusers' DDIMScheduler with η = 0 (scheduling_ddim.py): x_prev = √ᾱ_prev·x₀ + √(1 − ᾱ_prev)·ε, where the previous
/// timestep is t − N/steps and, before the first training step, ᾱ is 1 or ᾱ₀ as <c>set_alpha_to_one</c> says. With
/// <c>clip_sample</c>, x₀ is clamped to ±clip_sample_range and ε stays the model's (use_clipped_model_output false).
/// </summary>
public sealed class DdimScheduler(SchedulerConfig config) : Scheduler(config)
{
    public override double InitNoiseSigma => 1.0;

    public override StepPlan Plan(int index)
    {
        RequireTimesteps();
        int t = (int)Timesteps[index];
        int previous = t - (Config.NumTrainTimesteps / Timesteps.Length);
        double alphaBar = Schedule.AlphasCumprod[t];
        double alphaBarPrev = previous >= 0 ? Schedule.AlphasCumprod[previous] : Config.SetAlphaToOne ? 1.0 : Schedule.AlphasCumprod[0];
        (double x0X, double x0O, double epsX, double epsO) = AlphaBarParts(alphaBar);
        (double a, double s) = (Math.Sqrt(alphaBarPrev), Math.Sqrt(1 - alphaBarPrev));
        if (Config.ClipSample)
        {
            return new StepPlan(x0X, x0O, Update(s * epsX, s * epsO), StepExtra.None, DrawsNoise: false, new ClippedPrediction(Config.ClipSampleRange, a));
        }

        return new StepPlan(x0X, x0O, Update((a * x0X) + (s * epsX), (a * x0O) + (s * epsO)), StepExtra.None, DrawsNoise: false);
    }

    protected override void Build(int steps) => Timesteps = TimestepSpacing.Spread(Config, steps, steps, roundLinspace: true);
}

namespace Viper.Schedulers;

/// <summary>
/// diffusers' DDPMScheduler with the "fixed_small" variance — the ViPer paper's Algorithm 1:
/// x_prev = c₀·x₀ + c_t·x + σ_t·z with c₀ = √ᾱ_prev·β_t/(1 − ᾱ_t), c_t = √α_t·(1 − ᾱ_prev)/(1 − ᾱ_t),
/// σ_t² = max((1 − ᾱ_prev)/(1 − ᾱ_t)·β_t, 1e-20), α_t = ᾱ_t/ᾱ_prev; noise is drawn whenever t &gt; 0. With
/// <c>clip_sample</c>, x₀ is clamped to ±clip_sample_range before it enters the mean.
/// </summary>
public sealed class DdpmScheduler : Scheduler
{
    public DdpmScheduler(SchedulerConfig config)
        : base(config)
    {
        if (config.VarianceType is not (null or "fixed_small"))
        {
            throw new ArgumentException($"DDPM variance_type '{config.VarianceType}' is not supported (fixed_small)");
        }
    }

    public override double InitNoiseSigma => 1.0;

    public override StepPlan Plan(int index)
    {
        RequireTimesteps();
        int t = (int)Timesteps[index];
        int previous = t - (Config.NumTrainTimesteps / Timesteps.Length);
        double alphaBar = Schedule.AlphasCumprod[t];
        double alphaBarPrev = previous >= 0 ? Schedule.AlphasCumprod[previous] : 1.0;
        double alpha = alphaBar / alphaBarPrev;
        double beta = 1 - alpha;
        double c0 = Math.Sqrt(alphaBarPrev) * beta / (1 - alphaBar);
        double ct = Math.Sqrt(alpha) * (1 - alphaBarPrev) / (1 - alphaBar);
        double sigma = Math.Sqrt(Math.Max((1 - alphaBarPrev) / (1 - alphaBar) * beta, 1e-20));
        (double x0X, double x0O, _, _) = AlphaBarParts(alphaBar);
        bool noisy = t > 0;
        if (Config.ClipSample)
        {
            return new StepPlan(x0X, x0O, Update(ct, 0, noisy ? sigma : 0), noisy ? StepExtra.Noise : StepExtra.None, DrawsNoise: noisy,
                new ClippedPrediction(Config.ClipSampleRange, c0));
        }

        return new StepPlan(x0X, x0O, Update((c0 * x0X) + ct, c0 * x0O, noisy ? sigma : 0),
            noisy ? StepExtra.Noise : StepExtra.None, DrawsNoise: noisy);
    }

    protected override void Build(int steps) => Timesteps = TimestepSpacing.Spread(Config, steps, steps, roundLinspace: true);
}

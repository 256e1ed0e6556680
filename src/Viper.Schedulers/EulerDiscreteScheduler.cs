namespace Viper.Schedulers;

/// <summary>
/// diffusers' EulerDiscreteScheduler (scheduling_euler_discrete.py) with s_churn = 0: x₀ = x − σ·ε,
/// x_next = x + (σ_next − σ)·(x − x₀)/σ on the unscaled sample; the model sees x/√(σ²+1). diffusers draws (and
/// discards) one noise tensor per step; the plan says so, to keep a shared generator in step.
/// </summary>
public class EulerDiscreteScheduler(SchedulerConfig config) : Scheduler(config)
{
    /// <summary>σ per step plus the final σ = 0, as float32 like diffusers' tensor.</summary>
    public double[] Sigmas { get; private set; } = [];

    public override double InitNoiseSigma
    {
        get
        {
            double max = Sigmas.Max();
            return Config.TimestepSpacing is "linspace" or "trailing" ? max : (float)Math.Sqrt((max * max) + 1);
        }
    }

    /// <summary>x + σ·ε on the unscaled sample (scheduling_euler_discrete.py add_noise with a begin index).</summary>
    public override (double Sample, double Noise) NoiseParts(int index)
    {
        RequireTimesteps();
        return (1, Sigmas[index]);
    }

    public override double InputScale(int index) => 1 / Math.Sqrt((Sigmas[index] * Sigmas[index]) + 1);

    public override StepPlan Plan(int index)
    {
        RequireTimesteps();
        (double sigma, double sigmaNext) = (Sigmas[index], Sigmas[index + 1]);
        return EulerPlan(sigma, sigmaNext - sigma, 0, StepExtra.None);
    }

    protected StepPlan EulerPlan(double sigma, double dt, double noiseScale, StepExtra extra)
    {
        (double x0X, double x0O) = SigmaParts(sigma);
        return new StepPlan(x0X, x0O, Update(1 + (dt * (1 - x0X) / sigma), -dt * x0O / sigma, noiseScale), extra, DrawsNoise: true);
    }

    protected override void Build(int steps)
    {
        Timesteps = TimestepSpacing.Spread(Config, steps, steps, roundLinspace: false).Select(t => (double)(float)t).ToArray();
        Sigmas = Timesteps.Select(t => (double)(float)Schedule.SigmaAt(t)).Append(0.0).ToArray();
    }
}

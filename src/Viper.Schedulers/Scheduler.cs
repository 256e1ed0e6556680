using Viper.Runtime.Guidance;

namespace Viper.Schedulers;

/// <summary>
/// A diffusion sampler on the host. <see cref="SetTimesteps"/> fixes the schedule; each step is then described by a
/// <see cref="StepPlan"/> that a backend applies to the latents. Plans depend only on the step index (and
/// <see cref="BeginIndex"/>, where a refiner picks up the schedule), so one scheduler can be planned ahead or reused.
/// </summary>
public abstract class Scheduler
{
    protected Scheduler(SchedulerConfig config)
    {
        Config = config;
        Schedule = new NoiseSchedule(config);
    }

    public SchedulerConfig Config { get; }

    public NoiseSchedule Schedule { get; }

    /// <summary>The timesteps the model is evaluated at, one per step, high to low (fractional for Euler).</summary>
    public double[] Timesteps { get; protected set; } = [];

    /// <summary>The first step taken (diffusers' set_begin_index), for a schedule resumed part-way (denoising_start).</summary>
    public int BeginIndex { get; set; }

    /// <summary>What the initial standard-normal latents are multiplied by.</summary>
    public abstract double InitNoiseSigma { get; }

    protected bool PredictsVelocity => Config.PredictionType == "v_prediction";

    public void SetTimesteps(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(steps, Config.NumTrainTimesteps);
        BeginIndex = 0;
        Build(steps);
    }

    /// <summary>What the latents are multiplied by before the model sees them at step <paramref name="index"/>.</summary>
    public virtual double InputScale(int index) => 1.0;

    public abstract StepPlan Plan(int index);

    /// <summary>
    /// diffusers' <c>add_noise</c> at step <paramref name="index"/>: a clean sample x enters the schedule there as
    /// Sample·x + Noise·ε (image-to-image). This default is the ᾱ form of DDIM/DDPM: √ᾱ_t and √(1 − ᾱ_t).
    /// </summary>
    public virtual (double Sample, double Noise) NoiseParts(int index)
    {
        RequireTimesteps();
        double alphaBar = Schedule.AlphasCumprod[(int)Timesteps[index]];
        return (Math.Sqrt(alphaBar), Math.Sqrt(1 - alphaBar));
    }

    /// <summary>
    /// diffusers' img2img <c>get_timesteps</c>: the first step of a run that keeps int(steps·strength) steps (a strength
    /// of 1 starts from pure noise at step 0).
    /// </summary>
    public int StartForStrength(double strength)
    {
        RequireTimesteps();
        int kept = Math.Min((int)(Timesteps.Length * strength), Timesteps.Length);
        return Math.Max(Timesteps.Length - kept, 0);
    }

    /// <summary>
    /// diffusers' <c>denoising_end</c>: the number of leading steps whose timestep is at or above the cut-off
    /// round(N·(1 − fraction)), where a base model hands over to a refiner.
    /// </summary>
    public int StepsBefore(double denoisingEnd)
    {
        ValidateFraction(denoisingEnd, "denoising_end");
        double cutoff = Math.Round(Config.NumTrainTimesteps - (denoisingEnd * Config.NumTrainTimesteps));
        return Timesteps.Count(t => t >= cutoff);
    }

    /// <summary>diffusers' <c>denoising_start</c>: begins at the first step below the cut-off; returns that index.</summary>
    public int StartAt(double denoisingStart)
    {
        ValidateFraction(denoisingStart, "denoising_start");
        double cutoff = Math.Round(Config.NumTrainTimesteps - (denoisingStart * Config.NumTrainTimesteps));
        BeginIndex = Timesteps.Length - Timesteps.Count(t => t < cutoff);
        return BeginIndex;
    }

    protected abstract void Build(int steps);

    protected void RequireTimesteps()
    {
        if (Timesteps.Length == 0)
        {
            throw new InvalidOperationException("call SetTimesteps before planning steps");
        }
    }

    /// <summary>x₀ and ε from an alpha-bar parameterisation (DDIM/DDPM): returns (x₀ from x, x₀ from o, ε from x, ε from o).</summary>
    protected (double X0X, double X0O, double EpsX, double EpsO) AlphaBarParts(double alphaBar)
    {
        double a = Math.Sqrt(alphaBar);
        double s = Math.Sqrt(1 - alphaBar);
        return PredictsVelocity ? (a, -s, s, a) : (1 / a, -s / a, 0, 1);
    }

    /// <summary>x₀ from a σ parameterisation of the unscaled sample (Euler): returns (x₀ from x, x₀ from o).</summary>
    protected (double X0X, double X0O) SigmaParts(double sigma) =>
        PredictsVelocity ? (1 / ((sigma * sigma) + 1), -sigma / Math.Sqrt((sigma * sigma) + 1)) : (1, -sigma);

    protected static SchedulerUpdate Update(double a, double b, double c = 0) => new((float)a, (float)b, (float)c);

    private static void ValidateFraction(double value, string name)
    {
        if (!(value > 0 && value < 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must lie strictly between 0 and 1");
        }
    }
}

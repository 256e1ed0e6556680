namespace Viper.Schedulers;

/// <summary>
/// diffusers' DPMSolverMultistepScheduler as DPM-Solver++ (data prediction) of order 1 or 2 with the midpoint
/// second-order update, optionally on Karras sigmas (scheduling_dpmsolver_multistep.py). With α = 1/√(σ²+1),
/// s = σ·α, λ = log α − log s and h = λ_next − λ: x_next = (s_next/s)·x − α_next(e^−h − 1)·D, where D = x₀ (first
/// order) or x₀ + (x₀ − x₀_prev)/(2r), r = h_prev/h. The last step is first order when lower_order_final applies.
/// </summary>
public sealed class DpmSolverMultistepScheduler : Scheduler
{
    public DpmSolverMultistepScheduler(SchedulerConfig config)
        : base(config)
    {
        if (config.AlgorithmType != "dpmsolver++" || config.SolverType != "midpoint" || config.SolverOrder is not (1 or 2))
        {
            throw new ArgumentException("DPM-Solver: only algorithm_type dpmsolver++, solver_type midpoint and solver_order 1 or 2 are supported");
        }

        if (config.FinalSigmasType is not ("zero" or "sigma_min"))
        {
            throw new ArgumentException($"DPM-Solver: final_sigmas_type '{config.FinalSigmasType}' is not supported (zero, sigma_min)");
        }
    }

    /// <summary>σ per step plus the final σ, as float32 like diffusers' tensor.</summary>
    public double[] Sigmas { get; private set; } = [];

    public override double InitNoiseSigma => 1.0;

    /// <summary>α_t·x + σ_t·ε at the step's σ (scheduling_dpmsolver_multistep.py add_noise).</summary>
    public override (double Sample, double Noise) NoiseParts(int index)
    {
        RequireTimesteps();
        (double alpha, double sigma, _) = Parts(Sigmas[index]);
        return (alpha, sigma);
    }

    public override StepPlan Plan(int index)
    {
        RequireTimesteps();
        int count = Timesteps.Length;
        int taken = index - BeginIndex;
        bool lowerOrderFinal = index == count - 1 &&
            (Config.EulerAtFinal || (Config.LowerOrderFinal && count < 15) || Config.FinalSigmasType == "zero");
        bool firstOrder = Config.SolverOrder == 1 || taken < 1 || lowerOrderFinal;

        (double alphaS, double sigmaS, double lambdaS) = Parts(Sigmas[index]);
        (double alphaT, double sigmaT, double lambdaT) = Parts(Sigmas[index + 1]);
        (double x0X, double x0O) = PredictsVelocity ? (alphaS, -sigmaS) : (1 / alphaS, -sigmaS / alphaS);
        double c = alphaT * (Math.Exp(-(lambdaT - lambdaS)) - 1);
        double ratio = sigmaT / sigmaS;
        if (firstOrder)
        {
            return new StepPlan(x0X, x0O, Update(ratio - (c * x0X), -c * x0O), StepExtra.None, DrawsNoise: false);
        }

        double lambdaPrev = Parts(Sigmas[index - 1]).Lambda;
        double halfOverR = 0.5 * (lambdaT - lambdaS) / (lambdaS - lambdaPrev);
        double d = c * (1 + halfOverR);
        return new StepPlan(x0X, x0O, Update(ratio - (d * x0X), -d * x0O, c * halfOverR), StepExtra.PreviousPrediction, DrawsNoise: false);
    }

    protected override void Build(int steps)
    {
        // diffusers spreads steps + 1 points and drops the last, except for trailing spacing.
        double[] timesteps = Config.TimestepSpacing == "trailing"
            ? TimestepSpacing.Spread(Config, steps, steps, roundLinspace: true)
            : TimestepSpacing.Spread(Config, steps + 1, steps + 1, roundLinspace: true)[..^1];
        double[] sigmas;
        if (Config.UseKarrasSigmas)
        {
            sigmas = KarrasSigmas(steps);
            timesteps = sigmas.Select(s => Math.Round(Schedule.TimestepOf(s))).ToArray();
        }
        else
        {
            sigmas = timesteps.Select(Schedule.SigmaAt).ToArray();
        }

        double last = Config.FinalSigmasType == "zero" ? 0 : Schedule.Sigmas[0];
        Timesteps = timesteps;
        Sigmas = sigmas.Append(last).Select(s => (double)(float)s).ToArray();
    }

    // Karras et al. (2022) eq. 5 with ρ = 7 between the training schedule's smallest and largest σ.
    private double[] KarrasSigmas(int steps)
    {
        const double Rho = 7.0;
        double minInv = Math.Pow(Schedule.Sigmas[0], 1 / Rho);
        double maxInv = Math.Pow(Schedule.Sigmas[^1], 1 / Rho);
        return TimestepSpacing.Linspace(0, 1, steps).Select(r => Math.Pow(maxInv + (r * (minInv - maxInv)), Rho)).ToArray();
    }

    private static (double Alpha, double Sigma, double Lambda) Parts(double sigma)
    {
        double alpha = 1 / Math.Sqrt((sigma * sigma) + 1);
        double scaled = sigma * alpha;
        return (alpha, scaled, Math.Log(alpha) - Math.Log(scaled));
    }
}

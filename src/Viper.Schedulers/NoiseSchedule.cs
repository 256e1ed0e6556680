namespace Viper.Schedulers;

/// <summary>
/// The training noise schedule: betas and ᾱ (alphas_cumprod), computed as diffusers' torch code does (float32
/// torch.linspace, then cumprod), so indexing ᾱ[t] gives the values the Python schedulers use.
/// </summary>
public sealed class NoiseSchedule
{
    public NoiseSchedule(SchedulerConfig config)
    {
        int n = config.NumTrainTimesteps;
        float[] betas = config.TrainedBetas is { } trained ? trained.Select(b => (float)b).ToArray() : config.BetaSchedule switch
        {
            "linear" => TorchLinspace((float)config.BetaStart, (float)config.BetaEnd, n),
            "scaled_linear" => TorchLinspace((float)Math.Sqrt(config.BetaStart), (float)Math.Sqrt(config.BetaEnd), n)
                .Select(b => b * b).ToArray(),
            _ => CosineBetas(n),
        };
        AlphasCumprod = new float[n];
        double product = 1.0; // torch.cumprod on the CPU accumulates float32 in double
        for (int t = 0; t < n; t++)
        {
            product *= 1f - betas[t];
            AlphasCumprod[t] = (float)product;
        }

        // diffusers: sigmas = ((1 − ᾱ) / ᾱ) ** 0.5 on the float32 tensor, log taken in NumPy.
        Sigmas = AlphasCumprod.Select(a => (double)MathF.Sqrt((1f - a) / a)).ToArray();
        LogSigmas = Sigmas.Select(s => Math.Log((float)s)).ToArray();
    }

    public float[] AlphasCumprod { get; }

    /// <summary>√((1 − ᾱ_t)/ᾱ_t) for every training timestep, increasing.</summary>
    public double[] Sigmas { get; }

    public double[] LogSigmas { get; }

    /// <summary>σ at a fractional timestep by linear interpolation (np.interp over the training sigmas).</summary>
    public double SigmaAt(double t)
    {
        if (t <= 0)
        {
            return Sigmas[0];
        }

        if (t >= Sigmas.Length - 1)
        {
            return Sigmas[^1];
        }

        int low = (int)Math.Floor(t);
        double w = t - low;
        return ((1 - w) * Sigmas[low]) + (w * Sigmas[low + 1]);
    }

    /// <summary>diffusers' _sigma_to_t: the fractional timestep of σ by interpolating log σ.</summary>
    public double TimestepOf(double sigma)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));
        int low = 0;
        for (int i = 0; i < LogSigmas.Length; i++)
        {
            if (logSigma - LogSigmas[i] >= 0)
            {
                low = i;
            }
        }

        low = Math.Min(low, LogSigmas.Length - 2);
        double w = Math.Clamp((LogSigmas[low] - logSigma) / (LogSigmas[low] - LogSigmas[low + 1]), 0, 1);
        return ((1 - w) * low) + (w * (low + 1));
    }

    // torch.linspace's CPU kernel: the first half steps up from start, the second half steps down from end.
    private static float[] TorchLinspace(float start, float end, int steps)
    {
        var values = new float[steps];
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++)
        {
            values[i] = i < halfway ? start + (step * i) : end - (step * (steps - i - 1));
        }

        return values;
    }

    // betas_for_alpha_bar with the cosine alpha-bar of Nichol & Dhariwal, max beta 0.999.
    private static float[] CosineBetas(int n)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        return Enumerable.Range(0, n).Select(i => (float)Math.Min(1 - (AlphaBar((i + 1.0) / n) / AlphaBar((double)i / n)), 0.999)).ToArray();
    }
}

namespace Viper.Runtime.Guidance;

/// <summary>
/// A scheduler step written as x_next = A·x + B·eps + C·noise for an epsilon-predicting model: the form the
/// fused guidance kernel applies. Euler, DDIM (η = 0, no clipping) and DDPM all reduce to it; the
/// coefficients follow diffusers' scheduling_euler_discrete.py, scheduling_ddim.py and scheduling_ddpm.py.
/// </summary>
public readonly record struct SchedulerUpdate(float A, float B, float C)
{
    /// <summary>Euler: x0 = x − σ·eps, d = (x − x0)/σ = eps, x_next = x + (σ_next − σ)·d.</summary>
    public static SchedulerUpdate Euler(double sigma, double sigmaNext) => new(1f, (float)(sigmaNext - sigma), 0f);

    /// <summary>
    /// DDIM with η = 0: x0 = (x − √(1−ᾱ_t)·eps)/√ᾱ_t, x_prev = √ᾱ_prev·x0 + √(1−ᾱ_prev)·eps.
    /// </summary>
    public static SchedulerUpdate Ddim(double alphaBar, double alphaBarPrev)
    {
        double a = Math.Sqrt(alphaBarPrev / alphaBar);
        return new((float)a, (float)(Math.Sqrt(1 - alphaBarPrev) - (a * Math.Sqrt(1 - alphaBar))), 0f);
    }

    /// <summary>
    /// DDPM (the ViPer paper's Algorithm 1, diffusers' "fixed_small" variance):
    /// x0 = (x − √(1−ᾱ_t)·eps)/√ᾱ_t; mean = c0·x0 + ct·x with c0 = √ᾱ_prev·β_t/(1−ᾱ_t),
    /// ct = √α_t·(1−ᾱ_prev)/(1−ᾱ_t); x_prev = mean + σ_t·z, σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·β_t (none at t = 0).
    /// </summary>
    public static SchedulerUpdate Ddpm(double alphaBar, double alphaBarPrev, bool lastStep)
    {
        double alpha = alphaBar / alphaBarPrev;
        double betaT = 1 - alpha;
        double c0 = Math.Sqrt(alphaBarPrev) * betaT / (1 - alphaBar);
        double ct = Math.Sqrt(alpha) * (1 - alphaBarPrev) / (1 - alphaBar);
        double variance = Math.Max((1 - alphaBarPrev) / (1 - alphaBar) * betaT, 1e-20);
        return new(
            (float)((c0 / Math.Sqrt(alphaBar)) + ct),
            (float)(-c0 * Math.Sqrt(1 - alphaBar) / Math.Sqrt(alphaBar)),
            lastStep ? 0f : (float)Math.Sqrt(variance));
    }
}

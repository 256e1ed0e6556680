namespace Viper.Schedulers;

/// <summary>
/// A <see cref="StepPlan"/> applied to host arrays in the fused guidance kernel's order of float operations: the CPU
/// form of a scheduler step, for tests and host-side loops.
/// </summary>
public static class HostStep
{
    /// <summary>Returns (x_next, x₀); <paramref name="extra"/> is the noise or previous x₀ the plan asks for.</summary>
    public static (float[] Next, float[] PredictedOriginal) Apply(StepPlan plan, ReadOnlySpan<float> sample, ReadOnlySpan<float> output,
        ReadOnlySpan<float> extra)
    {
        if (output.Length != sample.Length || (plan.Extra != StepExtra.None && extra.Length != sample.Length))
        {
            throw new ArgumentException("sample, model output and extra term must have the same length");
        }

        var next = new float[sample.Length];
        var x0 = new float[sample.Length];
        (float p, float q) = ((float)plan.X0FromSample, (float)plan.X0FromOutput);
        for (int i = 0; i < sample.Length; i++)
        {
            x0[i] = (p * sample[i]) + (q * output[i]);
            float value = (plan.Update.A * sample[i]) + (plan.Update.B * output[i]);
            if (plan.Clip is { } clip)
            {
                // The denoiser's order: the clamped x₀ term joins before the noise, as in diffusers' mean + σ·z.
                (float range, float weight) = ((float)clip.Range, (float)clip.Weight);
                value += weight * Math.Clamp(x0[i], -range, range);
            }

            next[i] = plan.Extra == StepExtra.None ? value : value + (plan.Update.C * extra[i]);
        }

        return (next, x0);
    }
}

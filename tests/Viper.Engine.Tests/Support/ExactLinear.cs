namespace Viper.Engine.Tests.Support;

/// <summary>
/// The f64 linear y = x·wᵀ + bias that the quantized-weight tests compare with, and the bounds they allow: f32
/// accumulation (relative to Σ|x·w|) and, where the CPU decode quantizes the activations to Q8_0 as llama.cpp does,
/// that rounding's bound (<see cref="ActivationRounding"/>).
/// </summary>
internal static class ExactLinear
{
    /// <summary>bias + Σ x[i]·w[i] in f64, and Σ|x[i]·w[i]| (what an f32 accumulation's error scales with), for one output.</summary>
    public static (double Exact, double Magnitude) At(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float bias)
    {
        double exact = bias, magnitude = Math.Abs(bias);
        for (int i = 0; i < x.Length; i++)
        {
            exact += (double)x[i] * w[i];
            magnitude += Math.Abs((double)x[i] * w[i]);
        }

        return (exact, magnitude);
    }

    /// <summary>
    /// Every y[r, c] (m × n, x m × k, w n × k) within relative·Σ|x·w| + absolute of the f64 linear, plus the activations'
    /// Q8_0 rounding when <paramref name="roundedActivations"/>.
    /// </summary>
    public static void AssertWithin(float[] got, float[] x, float[] w, float[] bias, int m, int n, int k, double relative, double absolute, bool roundedActivations)
    {
        for (int r = 0; r < m; r++)
        {
            for (int c = 0; c < n; c++)
            {
                (double exact, double magnitude) = At(x.AsSpan(r * k, k), w.AsSpan(c * k, k), bias[c]);
                double bound = (relative * magnitude) + absolute + (roundedActivations ? ActivationRounding(x.AsSpan(r * k, k), w.AsSpan(c * k, k)) : 0);
                Assert.True(Math.Abs(got[(r * n) + c] - exact) <= bound, $"y[{r},{c}] = {got[(r * n) + c]}, exact {exact} (bound {bound:g3})");
            }
        }
    }

    /// <summary>
    /// The most that rounding x to Q8_0 blocks can move x·w: each value moves at most half its block's step (max|x|/127),
    /// so Σ_blocks (step/2)·Σ|w| (with a margin for the f32 arithmetic of the scales).
    /// </summary>
    public static double ActivationRounding(ReadOnlySpan<float> x, ReadOnlySpan<float> w)
    {
        double total = 0;
        for (int b = 0; b < x.Length / 32; b++)
        {
            double step = 0, weight = 0;
            for (int j = b * 32; j < (b + 1) * 32; j++)
            {
                step = Math.Max(step, Math.Abs(x[j]) / 127.0);
                weight += Math.Abs(w[j]);
            }

            total += step / 2 * weight;
        }

        return total * 1.001;
    }
}

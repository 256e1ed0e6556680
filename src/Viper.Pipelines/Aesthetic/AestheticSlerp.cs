namespace Viper.Pipelines.Aesthetic;

/// <summary>
/// The A1111 extension's interpolations (aesthetic_clip.py): <c>slerp(low, high, val)</c> normalises each along dim 1,
/// ω = acos(Σ loŵ·higĥ), and returns sin((1−val)ω)/sin ω · low + sin(val·ω)/sin ω · high with the <b>unnormalised</b>
/// inputs. On a conditioning (1, tokens, C) dim 1 is the token axis, so each channel is slerped across the tokens; on
/// an embedding (1, D) it is the ordinary vector slerp. Computed in double, rounded once. Where ω is 0 (parallel
/// inputs) the extension divides by zero; here the linear interpolation, its limit, is used.
/// </summary>
public static class AestheticSlerp
{
    /// <summary>The vector slerp of two (D) embeddings.</summary>
    public static float[] Vectors(ReadOnlySpan<float> low, ReadOnlySpan<float> high, double val) => Columns(low, high, val, rows: low.Length, columns: 1);

    /// <summary>Per-column slerp of two row-major (rows, columns) matrices across their rows (a conditioning's tokens × channels).</summary>
    public static float[] Columns(ReadOnlySpan<float> low, ReadOnlySpan<float> high, double val, int rows, int columns)
    {
        if (low.Length != rows * columns || high.Length != low.Length)
        {
            throw new ArgumentException($"slerp needs two ({rows}, {columns}) inputs, not {low.Length} and {high.Length} values");
        }

        float[] result = new float[low.Length];
        for (int c = 0; c < columns; c++)
        {
            double lowNorm = 0, highNorm = 0;
            for (int r = 0; r < rows; r++)
            {
                lowNorm += (double)low[(r * columns) + c] * low[(r * columns) + c];
                highNorm += (double)high[(r * columns) + c] * high[(r * columns) + c];
            }

            (lowNorm, highNorm) = (Math.Sqrt(lowNorm), Math.Sqrt(highNorm));
            double dot = 0;
            for (int r = 0; r < rows; r++)
            {
                dot += low[(r * columns) + c] / lowNorm * (high[(r * columns) + c] / highNorm);
            }

            double omega = Math.Acos(Math.Clamp(dot, -1, 1)), so = Math.Sin(omega);
            (double a, double b) = so > 1e-12 ? (Math.Sin((1 - val) * omega) / so, Math.Sin(val * omega) / so) : (1 - val, val);
            for (int r = 0; r < rows; r++)
            {
                int i = (r * columns) + c;
                result[i] = (float)((a * low[i]) + (b * high[i]));
            }
        }

        return result;
    }

    /// <summary>z·(1 − w) + z_tuned·w in f32, as the extension's torch expression computes it.</summary>
    public static float[] Linear(ReadOnlySpan<float> plain, ReadOnlySpan<float> tuned, float weight)
    {
        float[] result = new float[plain.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = (plain[i] * (1 - weight)) + (tuned[i] * weight);
        }

        return result;
    }
}

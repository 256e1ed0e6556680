namespace Viper.Backends.Cpu;

/// <summary>Scalar functions .NET lacks, accurate to double precision so f32 results round correctly.</summary>
internal static class SpecialFunctions
{
    private static readonly double TwoOverSqrtPi = 2.0 / Math.Sqrt(Math.PI);

    /// <summary>
    /// erf(x): Maclaurin series below |x| = 3 (cancellation costs under 1e-13 there), and
    /// 1 − erfc(x) from the Laplace continued fraction above, evaluated bottom-up with 60 terms.
    /// </summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        if (double.IsNaN(x))
        {
            return x;
        }

        double result = z < 3.0 ? ErfSeries(z) : 1.0 - ErfcContinuedFraction(z);
        return x < 0 ? -result : result;
    }

    /// <summary>erfc(x) = 1 − erf(x) without the cancellation: the continued fraction directly from x = 3 on.</summary>
    public static double Erfc(double x) => x >= 3.0 ? ErfcContinuedFraction(x) : 1.0 - Erf(x);

    private static double ErfSeries(double z)
    {
        double z2 = z * z;
        double term = z;
        double sum = z;
        for (int n = 1; n < 200; n++)
        {
            term *= -z2 / n;
            double add = term / ((2 * n) + 1);
            sum += add;
            if (Math.Abs(add) < 1e-17 * Math.Abs(sum))
            {
                break;
            }
        }

        return TwoOverSqrtPi * sum;
    }

    // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), valid and fast for z ≥ 3.
    private static double ErfcContinuedFraction(double z)
    {
        double t = z;
        for (int n = 60; n >= 1; n--)
        {
            t = z + (n / 2.0 / t);
        }

        return Math.Exp(-z * z) / (Math.Sqrt(Math.PI) * t);
    }
}

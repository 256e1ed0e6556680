namespace Viper.Schedulers;

/// <summary>
/// The three ways diffusers spreads inference timesteps over the training range ("Common Diffusion Noise Schedules and
/// Sample Steps are Flawed", table 2), in NumPy's float64 arithmetic with round-half-to-even, high to low.
/// </summary>
public static class TimestepSpacing
{
    /// <summary>
    /// <paramref name="count"/> timesteps; <paramref name="leadingDivisor"/> is the number leading spacing divides the
    /// training range by (diffusers uses the step count, or steps + 1 for DPM-Solver). Not rounded for linspace when
    /// <paramref name="roundLinspace"/> is false (Euler keeps fractional timesteps).
    /// </summary>
    public static double[] Spread(SchedulerConfig config, int count, int leadingDivisor, bool roundLinspace)
    {
        int n = config.NumTrainTimesteps;
        double[] values = config.TimestepSpacing switch
        {
            "linspace" => Linspace(0, n - 1, count).Select(v => roundLinspace ? Math.Round(v) : v).Reverse().ToArray(),
            "leading" => Enumerable.Range(0, count).Select(i => Math.Round((double)i * (n / leadingDivisor)) + config.StepsOffset)
                .Reverse().ToArray(),
            "trailing" => Arange(n, 0, -(double)n / count).Select(v => Math.Round(v) - 1).ToArray(),
            _ => throw new ArgumentException($"timestep_spacing '{config.TimestepSpacing}' is not supported"),
        };
        return values;
    }

    /// <summary>np.linspace(start, stop, count): start + i·step, the last value exactly stop.</summary>
    public static double[] Linspace(double start, double stop, int count)
    {
        if (count == 1)
        {
            return [start];
        }

        double step = (stop - start) / (count - 1);
        double[] values = Enumerable.Range(0, count).Select(i => start + (i * step)).ToArray();
        values[^1] = stop;
        return values;
    }

    // np.arange(start, stop, step) for a negative float step: ceil((stop − start)/step) values start + i·step.
    private static IEnumerable<double> Arange(double start, double stop, double step)
    {
        int count = (int)Math.Ceiling((stop - start) / step);
        return Enumerable.Range(0, count).Select(i => start + (i * step));
    }
}

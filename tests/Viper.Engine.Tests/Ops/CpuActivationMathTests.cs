using Viper.Backends.Cpu;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// The CPU backend's vectorised activations against f64 formulas over a dense grid (the op fixtures hold a few hundred
/// values; this covers the tails and the smallest magnitudes).
/// </summary>
public class CpuActivationMathTests
{
    private static readonly float[] Grid = [.. Enumerable.Range(-24000, 48001).Select(i => i * 5e-4f), 1e-30f, -1e-30f, 3e-8f, -3e-8f, 60f, -60f];

    /// <summary>The erf GELU, 0.5·x·erfc(−x/√2), within 2.5e-7 relative everywhere (f32's half-ulp is 6e-8), the x → −∞ tail included.</summary>
    [Fact]
    public void GeluIsAccurateToAFewUlpsIncludingTheTail()
    {
        var y = new float[Grid.Length];
        ActivationMath.Gelu(Grid, y);
        for (int i = 0; i < Grid.Length; i++)
        {
            double x = Grid[i];
            double expected = 0.5 * x * SpecialFunctions.Erfc(-x / Math.Sqrt(2));
            double relative = expected == 0 ? Math.Abs(y[i]) : Math.Abs(y[i] - expected) / Math.Abs(expected);
            Assert.True(relative <= 2.5e-7, $"gelu({x:R}) = {y[i]:R}, f64 {expected:R} (relative error {relative:E2})");
        }
    }

    /// <summary>Within 4e-7 relative plus the f32 rounding of the exponent a·x (half an ulp of it, 6e-8·|a·x|, moves e^(−a·x) by that much).</summary>
    [Theory]
    [InlineData(1f)]
    [InlineData(1.702f)]
    public void SigmoidWeightedIsAccurate(float a)
    {
        var y = new float[Grid.Length];
        ActivationMath.SigmoidWeighted(Grid, y, a);
        for (int i = 0; i < Grid.Length; i++)
        {
            double x = Grid[i], expected = x / (1 + Math.Exp(-a * x));
            double bound = (4e-7 + (6e-8 * Math.Abs(a * x))) * Math.Abs(expected);
            Assert.True(Math.Abs(y[i] - expected) <= 1e-38 + bound, $"x·σ({a}·x) at {x:R}: {y[i]:R}, f64 {expected:R}");
        }
    }

    /// <summary>f32 arithmetic as torch's approximate="tanh" GELU does it: 1 + tanh cancels for x below about −4, so the bound there is absolute.</summary>
    [Fact]
    public void GeluTanhIsAccurate()
    {
        var y = new float[Grid.Length];
        ActivationMath.GeluTanh(Grid, y);
        for (int i = 0; i < Grid.Length; i++)
        {
            double x = Grid[i], expected = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + (0.044715 * x * x * x))));
            Assert.True(Math.Abs(y[i] - expected) <= 1e-6 + (1e-6 * Math.Abs(expected)), $"gelu_tanh({x:R}) = {y[i]:R}, f64 {expected:R}");
        }
    }

    /// <summary>Every element takes the vector path (tails padded), so a value's result does not depend on where it sits or the span's length.</summary>
    [Fact]
    public void ResultsDoNotDependOnPositionOrLength()
    {
        float[] values = [.. Grid.Take(37)];
        var whole = new float[values.Length];
        ActivationMath.Gelu(values, whole);
        for (int length = 1; length <= values.Length; length++)
        {
            for (int start = 0; start + length <= values.Length; start += 5)
            {
                var part = new float[length];
                ActivationMath.Gelu(values.AsSpan(start, length), part);
                Assert.Equal(whole.AsSpan(start, length).ToArray(), part);
            }
        }
    }
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Viper.Backends.Cpu;

/// <summary>
/// Activations over spans, vectorised: every element takes the same vector path (a tail is padded into a full
/// vector), so a value's result does not depend on where it sits in a tensor.
/// </summary>
internal static class ActivationMath
{
    private const int Chunk = 256;
    internal static readonly double SqrtHalf = Math.Sqrt(0.5);
    internal static readonly float SqrtTwoOverPi = MathF.Sqrt(2f / MathF.PI);

    /// <summary>y = x·σ(a·x) = x / (1 + e^(−a·x)): SiLU for a = 1, QuickGELU for a = 1.702.</summary>
    public static void SigmoidWeighted(ReadOnlySpan<float> x, Span<float> y, float a)
    {
        Span<float> t = stackalloc float[Chunk];
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - i);
            ReadOnlySpan<float> xs = x.Slice(i, n);
            Span<float> ts = t[..n];
            TensorPrimitives.Multiply(xs, -a, ts);
            TensorPrimitives.Exp(ts, ts);
            TensorPrimitives.Add(ts, 1f, ts);
            TensorPrimitives.Divide(xs, ts, y.Slice(i, n));
        }
    }

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), torch's approximate="tanh" GELU in f32.</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        Span<float> t = stackalloc float[Chunk];
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - i);
            ReadOnlySpan<float> xs = x.Slice(i, n);
            Span<float> ts = t[..n];
            TensorPrimitives.Multiply(xs, xs, ts);
            TensorPrimitives.Multiply(ts, xs, ts);
            TensorPrimitives.MultiplyAdd(ts, 0.044715f, xs, ts);
            TensorPrimitives.Multiply(ts, SqrtTwoOverPi, ts);
            TensorPrimitives.Tanh(ts, ts);
            TensorPrimitives.Add(ts, 1f, ts);
            TensorPrimitives.Multiply(ts, xs, ts);
            TensorPrimitives.Multiply(ts, 0.5f, y.Slice(i, n));
        }
    }

    /// <summary>
    /// The erf GELU, 0.5·x·erfc(−x/√2), computed in f64 with Numerical Recipes' erfc (erfcc: fractional error under
    /// 1.2e-7 for every argument, so the tail x → −∞ keeps its relative accuracy), rounded once to f32.
    /// </summary>
    public static unsafe void Gelu(ReadOnlySpan<float> x, Span<float> y)
    {
        int whole = x.Length & ~7;
        fixed (float* xp = x, yp = y)
        {
            for (int i = 0; i < whole; i += 8)
            {
                Vector256.Store(Gelu8(Vector256.Load(xp + i)), yp + i);
            }
        }

        if (whole < x.Length)
        {
            Span<float> pad = stackalloc float[8];
            pad.Clear();
            x[whole..].CopyTo(pad);
            fixed (float* p = pad)
            {
                Vector256.Store(Gelu8(Vector256.Load(p)), p);
            }

            pad[..(x.Length - whole)].CopyTo(y[whole..]);
        }
    }

    private static Vector256<float> Gelu8(Vector256<float> x) =>
        Vector256.Narrow(Gelu4(Vector256.WidenLower(x)), Gelu4(Vector256.WidenUpper(x)));

    private static Vector256<double> Gelu4(Vector256<double> x)
    {
        Vector256<double> z = x * -SqrtHalf;
        Vector256<double> az = Vector256.Abs(z);
        Vector256<double> t = Vector256<double>.One / (Vector256<double>.One + (az * 0.5));
        Vector256<double> poly = Vector256.Create(0.17087277);
        poly = (poly * t) + Vector256.Create(-0.82215223);
        poly = (poly * t) + Vector256.Create(1.48851587);
        poly = (poly * t) + Vector256.Create(-1.13520398);
        poly = (poly * t) + Vector256.Create(0.27886807);
        poly = (poly * t) + Vector256.Create(-0.18628806);
        poly = (poly * t) + Vector256.Create(0.09678418);
        poly = (poly * t) + Vector256.Create(0.37409196);
        poly = (poly * t) + Vector256.Create(1.00002368);
        poly = (poly * t) + Vector256.Create(-1.26551223);
        Vector256<double> r = t * Vector256.Exp(poly - (az * az));
        Vector256<double> erfc = Vector256.ConditionalSelect(Vector256.LessThan(z, Vector256<double>.Zero), Vector256.Create(2.0) - r, r);
        return x * erfc * 0.5;
    }
}

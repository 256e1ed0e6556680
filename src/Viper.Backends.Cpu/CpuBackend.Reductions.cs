using System.Numerics.Tensors;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    protected override Tensor ArgmaxCore(Tensor x)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        int[] result = new int[x.Shape.Rows];
        float* xp = xs.Pointer;
        ParallelRows(result.Length, c, row => result[row] = TensorPrimitives.IndexOfMax(new ReadOnlySpan<float>(xp + (row * c), c)));
        return this.FromInts(result, x.Shape.WithoutLast());
    }

    protected override Tensor TopGapCore(Tensor x)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        float[] result = new float[x.Shape.Rows];
        float* xp = xs.Pointer;
        ParallelRows(result.Length, c, row =>
        {
            float best = float.NegativeInfinity, second = float.NegativeInfinity;
            foreach (float v in new ReadOnlySpan<float>(xp + (row * c), c))
            {
                if (v > best)
                {
                    (best, second) = (v, best);
                }
                else if (v > second)
                {
                    second = v;
                }
            }

            result[row] = best - second;
        });
        return this.FromFloats(result, x.Shape.WithoutLast());
    }

    protected override Tensor RepetitionPenaltyCore(Tensor logits, Tensor ids, float penalty)
    {
        float[] scores = logits.ToFloats();
        float[] result = (float[])scores.Clone();
        int[] tokens = ids.ToInts();
        int vocab = logits.Shape[1], length = ids.Shape[1];
        TensorValueException.ThrowIfOutside(tokens, 0, vocab - 1, id => TensorValueException.PenaltyId(id, vocab));
        for (int i = 0; i < tokens.Length; i++)
        {
            int at = (i / length * vocab) + tokens[i];
            float score = scores[at]; // the original score: a repeated id is penalised once
            result[at] = score < 0 ? score * penalty : score / penalty;
        }

        return this.FromFloats(result, logits.Shape, logits.DType);
    }

    protected override Tensor SumLeadingCore(Tensor x, Shape outShape)
    {
        long cols = outShape.ElementCount, rows = cols == 0 ? 0 : x.ElementCount / cols;
        using F32Input xs = Read(x);
        F32Output y = Write(outShape, x.DType);
        float* xp = xs.Pointer;
        y.Span.Clear();
        for (long r = 0; r < rows; r++) // rows in order, as the kernel adds them
        {
            TensorPrimitives.Add(y.Span, new ReadOnlySpan<float>(xp + (r * cols), checked((int)cols)), y.Span);
        }

        return y.Finish();
    }

    protected override Tensor MeanCore(Tensor x)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape.WithoutLast(), x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, c, row =>
        {
            double sum = 0;
            for (int j = 0; j < c; j++)
            {
                sum += xp[(row * c) + j];
            }

            yp[row] = (float)(sum / c);
        });
        return y.Finish();
    }

    protected override Tensor L2NormalizeCore(Tensor x, float eps)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, c, row =>
        {
            float norm = MathF.Max(L2Norm(xp + (row * c), c), eps);
            TensorPrimitives.Divide(new ReadOnlySpan<float>(xp + (row * c), c), norm, new Span<float>(yp + (row * c), c));
        });
        return y.Finish();
    }

    /// <summary>
    /// Casts as PyTorch's .to(dtype): floats round to nearest even, floats to integers truncate
    /// toward zero (NaN → 0), anything to bool is "≠ 0".
    /// </summary>
    protected override Tensor CastCore(Tensor x, DType dtype)
    {
        if (x.DType.IsFloat() && dtype.IsFloat())
        {
            using F32Input xs = Read(x);
            F32Output y = Write(x.Shape, dtype);
            xs.Span.CopyTo(y.Span);
            return y.Finish();
        }

        return FromHost(HostCasts.Convert(x.ToBytes(), x.DType, dtype), x.Shape, dtype);
    }

    /// <summary>‖v‖₂ of a row: squares summed in double, the root rounded to f32 (l2_normalize and its backward).</summary>
    private static float L2Norm(float* v, int c)
    {
        double sq = 0;
        for (int j = 0; j < c; j++)
        {
            sq += (double)v[j] * v[j];
        }

        return (float)Math.Sqrt(sq);
    }
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// Group norm on (N, …, C): statistics per (sample, group) over every spatial position and the
    /// group's C/G channels, accumulated in f64, biased variance, as torch.nn.GroupNorm. The reference form of the
    /// fused add: the broadcast add, then the norm of its (rounded) result.
    /// </summary>
    protected override Tensor GroupNormCore(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu, Tensor? add, bool perChannel)
    {
        if (add is not null)
        {
            int[] dims = new int[x.Shape.Rank];
            Array.Fill(dims, 1);
            dims[0] = x.Shape[0];
            dims[^1] = x.Shape.Last;
            using Tensor sum = Add(x, perChannel ? add.Reshape(dims) : add);
            return GroupNorm(sum, groups, gamma, beta, eps, silu);
        }

        int batch = x.Shape[0];
        int c = x.Shape.Last;
        long spatial = x.Shape.Product(1, x.Shape.Rank - 1);
        using F32Input xs = Read(x);
        using F32Input gs = Read(gamma);
        using F32Input bs = Read(beta);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;

        // y = x·scale + shift per (sample, channel), as ATen's CPU group norm applies it, in spans of whole rows: up to
        // 256 channels several rows at once (scale and shift come repeated that many times) so narrow rows fill vectors.
        int rowsPerSpan = Math.Max(1, 512 / c);
        (float[] scale, float[] shift) = GroupNormAffine(xp, batch, spatial, c, groups, gs.Span, bs.Span, eps, rowsPerSpan);
        ParallelRowBlocks(batch * spatial, c, (first, end) =>
        {
            for (long row = first; row < end;)
            {
                long n = row / spatial;
                int length = (int)Math.Min(rowsPerSpan, Math.Min(end, (n + 1) * spatial) - row) * c;
                var o = new Span<float>(yp + (row * c), length);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(xp + (row * c), length), scale.AsSpan((int)n * rowsPerSpan * c, length),
                    shift.AsSpan((int)n * rowsPerSpan * c, length), o);
                if (silu)
                {
                    Activate(Activation.Silu, o, o);
                }

                row += length / c;
            }
        });
        return y.Finish();
    }

    /// <summary>
    /// Per (sample, channel) scale = γ·rstd and shift = β − mean·scale of group norm. Statistics per (sample, group) over
    /// every position and the group's channels in f64, biased variance (torch.nn.GroupNorm): per-channel sums over a
    /// fixed split of the positions (by shape alone, so results do not depend on the thread count), added in order.
    /// Each sample's C values are written <paramref name="repeats"/> times in a row.
    /// </summary>
    private (float[] Scale, float[] Shift) GroupNormAffine(float* xp, int batch, long spatial, int c, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, int repeats)
    {
        int splits = (int)Math.Clamp(spatial * c / (4 * MinParallelElements), 1, 16);
        long perSplit = (spatial + splits - 1) / splits;
        using BufferPool.Rental partialRental = Scratch((long)batch * splits * 2 * c * sizeof(double));
        double* partial = (double*)partialRental.Pointer;
        ParallelRows(batch * splits, perSplit * c, job =>
        {
            long n = job / splits, first = job % splits * perSplit, end = Math.Min(spatial, first + perSplit);
            double* sums = partial + (job * 2 * c);
            new Span<double>(sums, 2 * c).Clear();
            for (long s = first; s < end; s++)
            {
                AccumulateMoments(xp + (((n * spatial) + s) * c), c, sums, sums + c);
            }
        });

        int cg = c / groups;
        float[] scale = new float[batch * repeats * c], shift = new float[batch * repeats * c];
        for (int n = 0; n < batch; n++)
        {
            for (int g = 0; g < groups; g++)
            {
                double sum = 0, sumSq = 0;
                for (int split = 0; split < splits; split++)
                {
                    long at = (((long)n * splits) + split) * 2 * c;
                    for (int j = g * cg; j < (g + 1) * cg; j++)
                    {
                        sum += partial[at + j];
                        sumSq += partial[at + c + j];
                    }
                }

                double count = (double)spatial * cg;
                double mu = sum / count;
                double rstd = 1.0 / Math.Sqrt(Math.Max(0, (sumSq / count) - (mu * mu)) + eps);
                for (int j = g * cg; j < (g + 1) * cg; j++)
                {
                    double channelScale = (float)rstd * gamma[j];
                    for (int r = 0; r < repeats; r++)
                    {
                        scale[(((n * repeats) + r) * c) + j] = (float)channelScale;
                        shift[(((n * repeats) + r) * c) + j] = (float)(beta[j] - ((float)mu * channelScale));
                    }
                }
            }
        }

        return (scale, shift);
    }

    /// <summary>sums[j] += v[j], squares[j] += v[j]² in f64, eight channels at a time.</summary>
    private static void AccumulateMoments(float* v, int c, double* sums, double* squares)
    {
        int j = 0;
        for (; j + 8 <= c; j += 8)
        {
            Vector256<float> x = Vector256.Load(v + j);
            Vector256<double> lo = Vector256.WidenLower(x), hi = Vector256.WidenUpper(x);
            Vector256.Store(Vector256.Load(sums + j) + lo, sums + j);
            Vector256.Store(Vector256.Load(sums + j + 4) + hi, sums + j + 4);
            Vector256.Store(Vector256.Load(squares + j) + (lo * lo), squares + j);
            Vector256.Store(Vector256.Load(squares + j + 4) + (hi * hi), squares + j + 4);
        }

        for (; j < c; j++)
        {
            sums[j] += v[j];
            squares[j] += (double)v[j] * v[j];
        }
    }

    protected override Tensor LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        using F32Input gs = gamma is null ? default : Read(gamma);
        using F32Input bs = beta is null ? default : Read(beta);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer, gp = gs.Pointer, bp = bs.Pointer;
        ParallelRows(x.Shape.Rows, c, row =>
        {
            float* v = xp + (row * c);
            float* o = yp + (row * c);
            (float m, float rs) = RowMoments(v, c, eps);
            for (int j = 0; j < c; j++)
            {
                float value = (v[j] - m) * rs;
                o[j] = (gp is null ? value : value * gp[j]) + (bp is null ? 0f : bp[j]);
            }
        });
        return y.Finish();
    }

    protected override Tensor RmsNormCore(Tensor x, Tensor gamma, float eps)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        using F32Input gs = Read(gamma);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer, gp = gs.Pointer;
        ParallelRows(x.Shape.Rows, c, row =>
        {
            float* v = xp + (row * c);
            float* o = yp + (row * c);
            float rs = (float)(1.0 / Math.Sqrt((SumOfSquares(v, c) / c) + eps));
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var scale = Vector256.Create(rs);
                for (; j + 8 <= c; j += 8)
                {
                    (Vector256.Load(v + j) * scale * Vector256.Load(gp + j)).Store(o + j);
                }
            }

            for (; j < c; j++)
            {
                o[j] = v[j] * rs * gp[j];
            }
        });
        return y.Finish();
    }

    /// <summary>Σ v[j]² in double (eight partial sums, then the tail one at a time): a decode step's norms were one dependent double add per value.</summary>
    private static double SumOfSquares(float* v, int c)
    {
        int j = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<double> a = default, b = default;
            for (; j + 8 <= c; j += 8)
            {
                (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(Vector256.Load(v + j));
                a = Vector256.FusedMultiplyAdd(lo, lo, a);
                b = Vector256.FusedMultiplyAdd(hi, hi, b);
            }

            sum = Vector256.Sum(a + b);
        }

        for (; j < c; j++)
        {
            sum += (double)v[j] * v[j];
        }

        return sum;
    }

    /// <summary>Mean and 1/√(var + eps) of a row for layer norm and its backward (double sums, rounded to f32).</summary>
    private static (float Mean, float Rstd) RowMoments(float* v, int c, float eps)
    {
        double sum = 0;
        for (int j = 0; j < c; j++)
        {
            sum += v[j];
        }

        double mu = sum / c, sq = 0;
        for (int j = 0; j < c; j++)
        {
            double d = v[j] - mu;
            sq += d * d;
        }

        return ((float)mu, (float)(1.0 / Math.Sqrt((sq / c) + eps)));
    }
}

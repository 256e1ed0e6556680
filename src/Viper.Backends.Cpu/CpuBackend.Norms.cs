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
        int cg = c / groups;
        using F32Input xs = Read(x);
        using F32Input gs = Read(gamma);
        using F32Input bs = Read(beta);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer, gp = gs.Pointer, bp = bs.Pointer;
        float[] mean = new float[batch * groups];
        float[] rstd = new float[batch * groups];
        ParallelRows(batch * groups, ng =>
        {
            long n = ng / groups, g = ng % groups;
            double sum = 0, sumSq = 0;
            for (long s = 0; s < spatial; s++)
            {
                float* v = xp + (((n * spatial) + s) * c) + (g * cg);
                for (int j = 0; j < cg; j++)
                {
                    sum += v[j];
                    sumSq += (double)v[j] * v[j];
                }
            }

            double count = (double)spatial * cg;
            double mu = sum / count;
            double variance = Math.Max(0, (sumSq / count) - (mu * mu));
            mean[ng] = (float)mu;
            rstd[ng] = (float)(1.0 / Math.Sqrt(variance + eps));
        });
        ParallelRows(batch * spatial, row =>
        {
            long n = row / spatial;
            float* v = xp + (row * c);
            float* o = yp + (row * c);
            for (int j = 0; j < c; j++)
            {
                long ng = (n * groups) + (j / cg);
                float value = ((v[j] - mean[ng]) * rstd[ng] * gp[j]) + bp[j];
                o[j] = silu ? Silu(value) : value;
            }
        });
        return y.Finish();
    }

    protected override Tensor LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        using F32Input gs = gamma is null ? default : Read(gamma);
        using F32Input bs = beta is null ? default : Read(beta);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer, gp = gs.Pointer, bp = bs.Pointer;
        ParallelRows(x.Shape.Rows, row =>
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
        ParallelRows(x.Shape.Rows, row =>
        {
            float* v = xp + (row * c);
            float* o = yp + (row * c);
            double sq = 0;
            for (int j = 0; j < c; j++)
            {
                sq += (double)v[j] * v[j];
            }

            float rs = (float)(1.0 / Math.Sqrt((sq / c) + eps));
            for (int j = 0; j < c; j++)
            {
                o[j] = v[j] * rs * gp[j];
            }
        });
        return y.Finish();
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

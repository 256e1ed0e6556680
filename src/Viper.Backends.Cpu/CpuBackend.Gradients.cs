using System.Diagnostics;
using System.Numerics.Tensors;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Backends.Cpu;

/// <summary>
/// The gradient ops in plain f32 loops, in the order kernels/*.cu accumulate (positions and rows in order), so the two
/// backends agree closely and both are checked against PyTorch autograd and f64 finite differences.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    protected override Tensor EmbeddingBackwardCore(Tensor dy, Tensor ids, Shape output)
    {
        int rows = output[0], c = output[1];
        int[] at = ids.ToInts();
        TensorValueException.ThrowIfOutside(at, 0, rows - 1, id => TensorValueException.EmbeddingId(id, rows));
        using F32Input dys = Read(dy);
        F32Output table = Write(output, dy.DType);
        table.Span.Clear();
        float* src = dys.Pointer, dst = table.Pointer;
        for (int p = 0; p < at.Length; p++)
        {
            var into = new Span<float>(dst + ((long)at[p] * c), c);
            TensorPrimitives.Add(into, new ReadOnlySpan<float>(src + ((long)p * c), c), into);
        }

        return table.Finish();
    }

    protected override LayerNormGradients LayerNormBackwardCore(Tensor x, Tensor gamma, Tensor dy, float eps)
    {
        int c = x.Shape.Last;
        long rows = x.Shape.Rows;
        using F32Input xs = Read(x);
        using F32Input gs = Read(gamma);
        using F32Input dys = Read(dy);
        F32Output dx = Write(x.Shape, x.DType);
        using BufferPool.Rental statsRental = Scratch(rows * 2 * 4);
        float* xp = xs.Pointer, gp = gs.Pointer, dyp = dys.Pointer, dxp = dx.Pointer, stats = (float*)statsRental.Pointer;
        ParallelRows(rows, row =>
        {
            float* v = xp + (row * c), g = dyp + (row * c), o = dxp + (row * c);
            (float mean, float rstd) = RowMoments(v, c, eps);
            stats[2 * row] = mean;
            stats[(2 * row) + 1] = rstd;
            // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·γ (PyTorch's layer_norm_backward_cpu).
            float sumG = 0f, sumGx = 0f;
            for (int j = 0; j < c; j++)
            {
                float gh = g[j] * gp[j];
                sumG += gh;
                sumGx += gh * ((v[j] - mean) * rstd);
            }

            float meanG = sumG / c, meanGx = sumGx / c;
            for (int j = 0; j < c; j++)
            {
                float xh = (v[j] - mean) * rstd;
                o[j] = rstd * ((g[j] * gp[j]) - meanG - (xh * meanGx));
            }
        });

        F32Output dGamma = Write(gamma.Shape, gamma.DType), dBeta = Write(gamma.Shape, gamma.DType);
        float* dgp = dGamma.Pointer, dbp = dBeta.Pointer;
        ParallelChunks(c, (start, end) =>
        {
            for (long j = start; j < end; j++)
            {
                float sg = 0f, sb = 0f;
                for (long r = 0; r < rows; r++) // rows in order, as the kernel adds them
                {
                    float xh = (xp[(r * c) + j] - stats[2 * r]) * stats[(2 * r) + 1];
                    sg += dyp[(r * c) + j] * xh;
                    sb += dyp[(r * c) + j];
                }

                dgp[j] = sg;
                dbp[j] = sb;
            }
        });
        return new LayerNormGradients(dx.Finish(), dGamma.Finish(), dBeta.Finish());
    }

    protected override Tensor ActivationBackwardCore(Tensor x, Tensor dy, Activation activation)
    {
        Func<float, float> derivative = activation switch
        {
            Activation.Silu => SiluDerivative,
            Activation.Gelu => GeluDerivative,
            Activation.GeluTanh => GeluTanhDerivative,
            Activation.QuickGelu => QuickGeluDerivative,
            _ => throw new UnreachableException(),
        };
        using F32Input xs = Read(x);
        using F32Input dys = Read(dy);
        F32Output dx = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, dyp = dys.Pointer, dxp = dx.Pointer;
        ParallelChunks(xs.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                dxp[i] = dyp[i] * derivative(xp[i]);
            }
        });
        return dx.Finish();
    }

    internal static float SiluDerivative(float v)
    {
        float s = 1f / (1f + MathF.Exp(-v));
        return s * (1f + (v * (1f - s)));
    }

    /// <summary>Φ(x) + x·φ(x), the erf GELU's derivative (PyTorch's GeluBackward).</summary>
    internal static float GeluDerivative(float v) =>
        (float)((0.5 * (1.0 + SpecialFunctions.Erf(v * SqrtHalf))) + (v * Math.Exp(-0.5 * v * v) * 0.3989422804014327));

    internal static float GeluTanhDerivative(float v)
    {
        float inner = SqrtTwoOverPi * (v + (0.044715f * v * v * v));
        float t = MathF.Tanh(inner);
        return (0.5f * (1f + t)) + (0.5f * v * (1f - (t * t)) * SqrtTwoOverPi * (1f + (3f * 0.044715f * v * v)));
    }

    /// <summary>d/dx x·σ(1.702x) = σ + 1.702·x·σ·(1 − σ).</summary>
    internal static float QuickGeluDerivative(float v)
    {
        float s = 1f / (1f + MathF.Exp(-1.702f * v));
        return s + (1.702f * v * s * (1f - s));
    }

    protected override Tensor L2NormalizeBackwardCore(Tensor x, Tensor dy, float eps)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        using F32Input dys = Read(dy);
        F32Output dx = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, dyp = dys.Pointer, dxp = dx.Pointer;
        ParallelRows(x.Shape.Rows, row =>
        {
            float* v = xp + (row * c), g = dyp + (row * c), o = dxp + (row * c);
            double sq = 0;
            for (int j = 0; j < c; j++)
            {
                sq += (double)v[j] * v[j];
            }

            float norm = (float)Math.Sqrt(sq);
            if (!(norm > eps))
            {
                TensorPrimitives.Divide(new ReadOnlySpan<float>(g, c), eps, new Span<float>(o, c)); // clamp_min passes no gradient to the norm
                return;
            }

            float dot = 0f;
            for (int j = 0; j < c; j++)
            {
                dot += g[j] * (v[j] / norm);
            }

            for (int j = 0; j < c; j++)
            {
                o[j] = (g[j] - (v[j] / norm * dot)) / norm;
            }
        });
        return dx.Finish();
    }

    protected override AttentionGradients AttentionBackwardCore(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim;
        int group = hq / hkv;
        float scale = options.EffectiveScale;
        using F32Input qs = Read(q), ks = Read(k), vs = Read(v), dos = Read(dOut);
        long rowsTotal = (long)batch * hq * tq;
        using BufferPool.Rental pRental = Scratch(rowsTotal * tk * 4), dsRental = Scratch(rowsTotal * tk * 4);
        float* qp = qs.Pointer, kp = ks.Pointer, vp = vs.Pointer, dop = dos.Pointer, probs = (float*)pRental.Pointer, ds = (float*)dsRental.Pointer;
        int causalShift = tk - tq;
        bool causal = options.Causal;

        // Each (b, h, t) row: probabilities recomputed, then dS = P∘(dP − Σ P∘dP).
        ParallelRows(rowsTotal, row =>
        {
            int t = (int)(row % tq), h = (int)(row / tq % hq), b = (int)(row / tq / hq), kvh = h / group;
            int limit = causal ? Math.Min(tk, t + causalShift + 1) : tk;
            float* qrow = qp + ((((long)b * tq) + t) * hq * d) + (h * d), dorow = dop + ((((long)b * tq) + t) * hq * d) + (h * d);
            float* p = probs + (row * tk), s = ds + (row * tk);
            float max = float.NegativeInfinity;
            for (int j = 0; j < limit; j++)
            {
                p[j] = scale * Dot(qrow, kp + ((((long)b * tk) + j) * hkv * d) + (kvh * d), d);
                max = MathF.Max(max, p[j]);
            }

            float sum = 0f;
            for (int j = 0; j < limit; j++)
            {
                p[j] = MathF.Exp(p[j] - max);
                sum += p[j];
            }

            float rowDot = 0f;
            for (int j = 0; j < tk; j++)
            {
                p[j] = j < limit ? p[j] / sum : 0f;
                s[j] = j < limit ? Dot(dorow, vp + ((((long)b * tk) + j) * hkv * d) + (kvh * d), d) : 0f;
                rowDot += p[j] * s[j];
            }

            for (int j = 0; j < tk; j++)
            {
                s[j] = p[j] * (s[j] - rowDot);
            }
        });

        F32Output dq = Write(q.Shape, q.DType), dk = Write(k.Shape, k.DType), dv = Write(v.Shape, v.DType);
        float* dqp = dq.Pointer, dkp = dk.Pointer, dvp = dv.Pointer;
        ParallelRows(rowsTotal, row => // dq[t] = scale·Σ_j dS[t, j]·k[j]
        {
            int t = (int)(row % tq), h = (int)(row / tq % hq), b = (int)(row / tq / hq), kvh = h / group;
            float* o = dqp + ((((long)b * tq) + t) * hq * d) + (h * d), s = ds + (row * tk);
            for (int e = 0; e < d; e++)
            {
                float acc = 0f;
                for (int j = 0; j < tk; j++)
                {
                    acc += s[j] * kp[((((long)b * tk) + j) * hkv * d) + (kvh * d) + e];
                }

                o[e] = scale * acc;
            }
        });
        ParallelRows((long)batch * hkv * tk, row => // dk[j] = scale·Σ_heads Σ_t dS[t, j]·q[t]; dv[j] = Σ_heads Σ_t P[t, j]·dO[t]
        {
            int j = (int)(row % tk), kvh = (int)(row / tk % hkv), b = (int)(row / tk / hkv);
            long at = ((((long)b * tk) + j) * hkv * d) + (kvh * d);
            for (int e = 0; e < d; e++)
            {
                float accK = 0f, accV = 0f;
                for (int h = kvh * group; h < (kvh + 1) * group; h++)
                {
                    long baseRow = (((long)b * hq) + h) * tq;
                    for (int t = 0; t < tq; t++)
                    {
                        long qAt = ((((long)b * tq) + t) * hq * d) + (h * d) + e;
                        accK += ds[((baseRow + t) * tk) + j] * qp[qAt];
                        accV += probs[((baseRow + t) * tk) + j] * dop[qAt];
                    }
                }

                dkp[at + e] = scale * accK;
                dvp[at + e] = accV;
            }
        });
        return new AttentionGradients(dq.Finish(), dk.Finish(), dv.Finish());
    }

    private static float Dot(float* a, float* b, int n)
    {
        float acc = 0f;
        for (int i = 0; i < n; i++)
        {
            acc += a[i] * b[i];
        }

        return acc;
    }

    protected override void AdamUpdateCore(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step)
    {
        using F32Input gs = Read(grad);
        float* w = (float*)Ptr(master), mp = (float*)Ptr(m), vp = (float*)Ptr(v), g = gs.Pointer;
        AdamScalars s = step.Scalars();
        ParallelChunks(gs.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                AdamElement(ref w[i], ref mp[i], ref vp[i], g[i], s);
            }
        });
        if (param is null)
        {
            return;
        }

        using Tensor rounded = CastCore(master, param.DType); // a copy even for f32: param may not alias master
        CopyIntoCore(rounded, param);
    }

    /// <summary>One parameter's update, operation by operation as PyTorch 1.13's _single_tensor_adam orders them.</summary>
    private static void AdamElement(ref float w, ref float m, ref float v, float g, AdamScalars s)
    {
        w *= s.DecayFactor; // AdamW: param.mul_(1 − lr·λ)
        g += s.GradientDecay * w; // Adam: grad.add(param, alpha=λ)
        m = (m * s.Beta1) + (s.OneMinusBeta1 * g); // exp_avg.mul_(β₁).add_(grad, alpha=1 − β₁)
        v = (v * s.Beta2) + (s.OneMinusBeta2 * g * g); // exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value=1 − β₂)
        float denom = (MathF.Sqrt(v) / s.BiasCorrection2Sqrt) + s.Eps;
        w += -s.StepSize * m / denom; // param.addcdiv_(exp_avg, denom, value=−step_size)
    }
}

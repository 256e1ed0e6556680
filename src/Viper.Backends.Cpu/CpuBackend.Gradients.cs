using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Backends.Cpu;

/// <summary>
/// The gradient ops in f32 on the host — reductions over positions and rows in order, as kernels/*.cu add them; attention
/// through OpenBLAS GEMMs — each checked against PyTorch autograd and f64 finite differences.
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
        ParallelRows(rows, c, row =>
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
        (float)((0.5 * (1.0 + SpecialFunctions.Erf(v * ActivationMath.SqrtHalf))) + (v * Math.Exp(-0.5 * v * v) * 0.3989422804014327));

    internal static float GeluTanhDerivative(float v)
    {
        float inner = ActivationMath.SqrtTwoOverPi * (v + (0.044715f * v * v * v));
        float t = MathF.Tanh(inner);
        return (0.5f * (1f + t)) + (0.5f * v * (1f - (t * t)) * ActivationMath.SqrtTwoOverPi * (1f + (3f * 0.044715f * v * v)));
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
        ParallelRows(x.Shape.Rows, c, row =>
        {
            float* v = xp + (row * c), g = dyp + (row * c), o = dxp + (row * c);
            float norm = L2Norm(v, c);
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

    /// <summary>
    /// Per (batch, head), five strided GEMMs reading heads straight out of the (B, T, H·D) layout as the forward does:
    /// P = softmax(scale·Q·Kᵀ) recomputed (causal rows masked), dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP)) row by row, then
    /// dQ = scale·dS·K, dK += scale·dSᵀ·Q and dV += Pᵀ·dO (summed over the query heads that share a KV head).
    /// </summary>
    protected override AttentionGradients AttentionBackwardCore(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim;
        int group = hq / hkv, qStride = hq * d, kvStride = hkv * d;
        float scale = options.EffectiveScale;
        using F32Input qs = Read(q), ks = Read(k), vs = Read(v), dos = Read(dOut);
        F32Output dq = Write(q.Shape, q.DType), dk = Write(k.Shape, k.DType), dv = Write(v.Shape, v.DType);
        using BufferPool.Rental pRental = Scratch((long)tq * tk * 4), dsRental = Scratch((long)tq * tk * 4);
        float* probs = (float*)pRental.Pointer, ds = (float*)dsRental.Pointer;
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < hq; h++)
            {
                int kvh = h / group;
                long qAt = ((long)b * tq * qStride) + (h * d), kvAt = ((long)b * tk * kvStride) + (kvh * d);
                float* qh = qs.Pointer + qAt, doh = dos.Pointer + qAt, kh = ks.Pointer + kvAt, vh = vs.Pointer + kvAt;
                OpenBlas.Sgemm(Threads, false, true, tq, tk, d, scale, qh, qStride, kh, kvStride, 0f, probs, tk);
                OpenBlas.Sgemm(Threads, false, true, tq, tk, d, 1f, doh, qStride, vh, kvStride, 0f, ds, tk);
                for (int t = 0; t < tq; t++)
                {
                    var p = new Span<float>(probs + ((long)t * tk), tk);
                    var s = new Span<float>(ds + ((long)t * tk), tk);
                    MaskedSoftmaxRow(p, options.Causal ? Math.Min(tk, t + (tk - tq) + 1) : tk);
                    float rowDot = TensorPrimitives.Dot(p, s);
                    for (int j = 0; j < tk; j++)
                    {
                        s[j] = p[j] * (s[j] - rowDot);
                    }
                }

                float beta = h % group == 0 ? 0f : 1f; // the first query head of a group writes, the others add
                OpenBlas.Sgemm(Threads, false, false, tq, d, tk, scale, ds, tk, kh, kvStride, 0f, dq.Pointer + qAt, qStride);
                OpenBlas.Sgemm(Threads, true, false, tk, d, tq, scale, ds, tk, qh, qStride, beta, dk.Pointer + kvAt, kvStride);
                OpenBlas.Sgemm(Threads, true, false, tk, d, tq, 1f, probs, tk, doh, qStride, beta, dv.Pointer + kvAt, kvStride);
            }
        }

        return new AttentionGradients(dq.Finish(), dk.Finish(), dv.Finish());
    }

    protected override void AdamUpdateCore(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step)
    {
        using F32Input gs = Read(grad);
        float* w = (float*)Ptr(master), mp = (float*)Ptr(m), vp = (float*)Ptr(v), g = gs.Pointer;
        byte* target = param is null ? null : Ptr(param);
        DType targetType = param?.DType ?? DType.F32;
        AdamScalars s = step.Scalars();
        ParallelChunks(gs.Count, (start, end) =>
        {
            long i = start;
            for (; i + Vector256<float>.Count <= end; i += Vector256<float>.Count)
            {
                AdamVector(w + i, mp + i, vp + i, g + i, s);
            }

            for (; i < end; i++)
            {
                AdamElement(ref w[i], ref mp[i], ref vp[i], g[i], s);
            }

            if (target is null)
            {
                return;
            }

            // The model's copy, rounded once from the new master values (round to nearest even, as a cast).
            var values = new ReadOnlySpan<float>(w + start, (int)(end - start));
            switch (targetType)
            {
                case DType.F16:
                    FloatBits.F32ToF16(values, new Span<ushort>((ushort*)target + start, values.Length));
                    break;
                case DType.BF16:
                    FloatBits.F32ToBF16(values, new Span<ushort>((ushort*)target + start, values.Length));
                    break;
                default:
                    values.CopyTo(new Span<float>((float*)target + start, values.Length));
                    break;
            }
        });
    }

    /// <summary><see cref="AdamElement"/> on eight lanes: the same IEEE operations in the same order (no FMA), so the same bits.</summary>
    private static void AdamVector(float* w, float* m, float* v, float* g, AdamScalars s)
    {
        Vector256<float> p = Vector256.Load(w) * s.DecayFactor;
        Vector256<float> grad = Vector256.Load(g) + (Vector256.Create(s.GradientDecay) * p);
        Vector256<float> mi = (Vector256.Load(m) * s.Beta1) + (Vector256.Create(s.OneMinusBeta1) * grad);
        Vector256<float> vi = (Vector256.Load(v) * s.Beta2) + (Vector256.Create(s.OneMinusBeta2) * grad * grad);
        Vector256<float> denom = (Vector256.Sqrt(vi) / s.BiasCorrection2Sqrt) + Vector256.Create(s.Eps);
        p += Vector256.Create(-s.StepSize) * mi / denom;
        p.Store(w);
        mi.Store(m);
        vi.Store(v);
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

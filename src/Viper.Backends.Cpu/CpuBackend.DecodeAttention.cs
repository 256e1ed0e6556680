using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Query rows up to which attention reads the keys and values in place (decode against a KV cache).</summary>
    private const int DecodeAttentionRows = 8;

    /// <summary>
    /// Attention for a few query rows (decode) over K and V read in place in their dtype, each up to its row's key limit:
    /// no widened copy of the cache (whose capacity can be thousands of positions), no BLAS call. One (batch, key-value
    /// head) per work item: the query heads that share it (grouped-query attention) read each key and value row once,
    /// four heads at a time. Per query row: scores q·kⱼ for the visible keys, the same softmax as the GEMM path, then
    /// Σ pⱼ·vⱼ in f32. Every score and output is summed in the same order whichever way it is grouped.
    /// </summary>
    private void DecodeAttention(Tensor q, Tensor k, Tensor v, AttentionOptions options, float* qp, float* yp, Action<Span<float>, int, int, int> softmaxRow,
        int[] keyLengths)
    {
        switch (k.DType)
        {
            case DType.BF16:
                DecodeAttention<BF16Elements>(q, k, v, options, qp, yp, softmaxRow, keyLengths);
                break;
            case DType.F16:
                DecodeAttention<F16Elements>(q, k, v, options, qp, yp, softmaxRow, keyLengths);
                break;
            default:
                DecodeAttention<F32Elements>(q, k, v, options, qp, yp, softmaxRow, keyLengths);
                break;
        }
    }

    /// <summary>
    /// <see cref="DecodeAttention"/> for K and V stored as <typeparamref name="TRow"/>: the element type is known to
    /// every inner loop (one dispatch per call instead of one per eight elements).
    /// </summary>
    private void DecodeAttention<TRow>(Tensor q, Tensor k, Tensor v, AttentionOptions options, float* qp, float* yp, Action<Span<float>, int, int, int> softmaxRow,
        int[] keyLengths)
        where TRow : struct, IRowElements
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1];
        int hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim, group = hq / hkv;
        float scale = options.EffectiveScale;
        byte* kp = Ptr(k), vp = Ptr(v);
        long stride = (long)hkv * d * TRow.Bytes;
        _workers.Run(batch * hkv, bkv =>
        {
            int b = bkv / hkv, kvh = bkv % hkv;
            byte* keys = kp + ((((long)b * tk * hkv) + kvh) * d * TRow.Bytes);
            byte* values = vp + ((((long)b * tk * hkv) + kvh) * d * TRow.Bytes);
            float[] rented = System.Buffers.ArrayPool<float>.Shared.Rent(group * tk);
            fixed (float* scores = rented)
            {
                for (int t = 0; t < tq; t++)
                {
                    int limit = options.Causal ? Math.Min(keyLengths[b], t + (tk - tq) + 1) : keyLengths[b];
                    float* queries = qp + ((((long)b * tq) + t) * hq * d) + ((long)kvh * group * d);
                    float* outputs = yp + ((((long)b * tq) + t) * hq * d) + ((long)kvh * group * d);
                    int g = 0;
                    for (; g + 4 <= group; g += 4)
                    {
                        int j = 0;
                        for (; j + 2 <= limit; j += 2)
                        {
                            DotFourHeads<TRow>(keys + (j * stride), stride, 2, queries + (g * d), d, scale, scores + (g * tk) + j, tk);
                        }

                        if (j < limit)
                        {
                            DotFourHeads<TRow>(keys + (j * stride), stride, 1, queries + (g * d), d, scale, scores + (g * tk) + j, tk);
                        }
                    }

                    for (; g < group; g++)
                    {
                        OneHeadScores<TRow>(keys, stride, queries + (g * d), d, scale, scores + (g * tk), limit);
                    }

                    for (g = 0; g < group; g++)
                    {
                        softmaxRow(new Span<float>(scores + (g * tk), tk), b, (kvh * group) + g, t);
                        new Span<float>(outputs + (g * d), d).Clear();
                    }

                    for (g = 0; g + 4 <= group; g += 4)
                    {
                        FourHeadsOutput<TRow>(values, stride, scores + (g * tk), tk, outputs + (g * d), d, limit);
                    }

                    for (; g < group; g++)
                    {
                        OneHeadOutput<TRow>(values, stride, scores + (g * tk), outputs + (g * d), d, limit);
                    }
                }
            }

            System.Buffers.ArrayPool<float>.Shared.Return(rented);
        });
    }

    private static void OneHeadScores<TRow>(byte* keys, long stride, float* query, int d, float scale, float* scores, int limit)
        where TRow : struct, IRowElements
    {
        int j = 0;
        for (; j + 4 <= limit; j += 4)
        {
            RowDot4<TRow>(keys + (j * stride), stride, query, d, scale, new Span<float>(scores + j, 4));
        }

        for (; j < limit; j++)
        {
            scores[j] = scale * RowDot<TRow>(keys + (j * stride), query, d);
        }
    }

    private static void OneHeadOutput<TRow>(byte* values, long stride, float* p, float* y, int d, int limit)
        where TRow : struct, IRowElements
    {
        for (int j = 0; j < limit;)
        {
            if (j + 4 <= limit && FourNonZero(p + j))
            {
                RowAxpy4<TRow>(values + (j * stride), stride, new ReadOnlySpan<float>(p + j, 4), y, d);
                j += 4;
                continue;
            }

            if (p[j] != 0f)
            {
                RowAxpy<TRow>(values + (j * stride), p[j], y, d);
            }

            j++;
        }
    }

    /// <summary>The grouped loops take four probabilities together only when none is zero (a masked key is stepped around, as alone).</summary>
    private static bool FourNonZero(float* p) => p[0] != 0f && p[1] != 0f && p[2] != 0f && p[3] != 0f;

    /// <summary>
    /// Four heads' outputs (probabilities <paramref name="ldp"/> apart, outputs d apart): 32 columns of all four at a
    /// time held in sixteen accumulators over every key (each value row decoded once per head group, y loaded and
    /// stored once), then 8 at a time, then the rest. Per head and column the keys are added in order, one FMA each, as
    /// <see cref="RowAxpy"/> adds them, so the result is the same whichever way a column is reached; a key whose
    /// probability is zero for some head is added only to the others (masked keys are stepped around, never multiplied).
    /// </summary>
    private static void FourHeadsOutput<TRow>(byte* values, long stride, float* p, int ldp, float* y, int d, int limit)
        where TRow : struct, IRowElements
    {
        int i = 0;
        for (; i + 32 <= d; i += 32)
        {
            ThirtyTwoColumns<TRow>(values + (i * TRow.Bytes), stride, p, ldp, y + i, d, limit);
        }

        for (; i + 8 <= d; i += 8)
        {
            EightColumns<TRow>(values + (i * TRow.Bytes), stride, p, ldp, y + i, d, limit);
        }

        for (int g = 0; i < d && g < 4; g++)
        {
            OneHeadOutput<TRow>(values + (i * TRow.Bytes), stride, p + (g * ldp), y + (g * d) + i, d - i, limit);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ThirtyTwoColumns<TRow>(byte* values, long stride, float* p, int ldp, float* y, int d, int limit)
        where TRow : struct, IRowElements
    {
        float* p1 = p + ldp, p2 = p + (2 * ldp), p3 = p + (3 * ldp);
        Vector256<float> a00 = Vector256.Load(y), a01 = Vector256.Load(y + 8), a02 = Vector256.Load(y + 16), a03 = Vector256.Load(y + 24);
        Vector256<float> a10 = Vector256.Load(y + d), a11 = Vector256.Load(y + d + 8), a12 = Vector256.Load(y + d + 16), a13 = Vector256.Load(y + d + 24);
        Vector256<float> a20 = Vector256.Load(y + (2 * d)), a21 = Vector256.Load(y + (2 * d) + 8), a22 = Vector256.Load(y + (2 * d) + 16), a23 = Vector256.Load(y + (2 * d) + 24);
        Vector256<float> a30 = Vector256.Load(y + (3 * d)), a31 = Vector256.Load(y + (3 * d) + 8), a32 = Vector256.Load(y + (3 * d) + 16), a33 = Vector256.Load(y + (3 * d) + 24);
        for (int j = 0; j < limit; j++)
        {
            byte* row = values + (j * stride);
            Vector256<float> v0 = TRow.Eight(row, 0), v1 = TRow.Eight(row, 8), v2 = TRow.Eight(row, 16), v3 = TRow.Eight(row, 24);
            AddScaled(p[j], v0, v1, v2, v3, ref a00, ref a01, ref a02, ref a03);
            AddScaled(p1[j], v0, v1, v2, v3, ref a10, ref a11, ref a12, ref a13);
            AddScaled(p2[j], v0, v1, v2, v3, ref a20, ref a21, ref a22, ref a23);
            AddScaled(p3[j], v0, v1, v2, v3, ref a30, ref a31, ref a32, ref a33);
        }

        Store(y, a00, a01, a02, a03);
        Store(y + d, a10, a11, a12, a13);
        Store(y + (2 * d), a20, a21, a22, a23);
        Store(y + (3 * d), a30, a31, a32, a33);
    }

    /// <summary>a += p·v over four vectors, unless p is zero (a masked key is never multiplied).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaled(float p, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3)
    {
        if (p != 0f)
        {
            var s = Vector256.Create(p);
            (a0, a1, a2, a3) = (Vector256.FusedMultiplyAdd(v0, s, a0), Vector256.FusedMultiplyAdd(v1, s, a1), Vector256.FusedMultiplyAdd(v2, s, a2), Vector256.FusedMultiplyAdd(v3, s, a3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        a0.Store(y);
        a1.Store(y + 8);
        a2.Store(y + 16);
        a3.Store(y + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EightColumns<TRow>(byte* values, long stride, float* p, int ldp, float* y, int d, int limit)
        where TRow : struct, IRowElements
    {
        Vector256<float> a0 = Vector256.Load(y), a1 = Vector256.Load(y + d), a2 = Vector256.Load(y + (2 * d)), a3 = Vector256.Load(y + (3 * d));
        for (int j = 0; j < limit; j++)
        {
            Vector256<float> v = TRow.Eight(values + (j * stride), 0);
            a0 = p[j] != 0f ? Vector256.FusedMultiplyAdd(v, Vector256.Create(p[j]), a0) : a0;
            a1 = p[ldp + j] != 0f ? Vector256.FusedMultiplyAdd(v, Vector256.Create(p[ldp + j]), a1) : a1;
            a2 = p[(2 * ldp) + j] != 0f ? Vector256.FusedMultiplyAdd(v, Vector256.Create(p[(2 * ldp) + j]), a2) : a2;
            a3 = p[(3 * ldp) + j] != 0f ? Vector256.FusedMultiplyAdd(v, Vector256.Create(p[(3 * ldp) + j]), a3) : a3;
        }

        a0.Store(y);
        a1.Store(y + d);
        a2.Store(y + (2 * d));
        a3.Store(y + (3 * d));
    }

    /// <summary>
    /// <paramref name="keyCount"/> (1 or 2) consecutive key rows against four consecutive query heads (d apart): each row
    /// decoded once, each head's sum in <see cref="RowDot"/>'s order (two keys give eight independent FMA chains instead
    /// of four, so the loop is not waiting on FMA latency). Scores go <paramref name="lds"/> apart per head, 1 apart per key.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotFourHeads<TRow>(byte* row, long stride, int keyCount, float* queries, int d, float scale, float* scores, int lds)
        where TRow : struct, IRowElements
    {
        byte* second = keyCount == 2 ? row + stride : row;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> key = TRow.Eight(row, i), next = TRow.Eight(second, i);
            Vector256<float> q0 = Vector256.Load(queries + i), q1 = Vector256.Load(queries + d + i);
            Vector256<float> q2 = Vector256.Load(queries + (2 * d) + i), q3 = Vector256.Load(queries + (3 * d) + i);
            (a0, a1, a2, a3) = (Vector256.FusedMultiplyAdd(key, q0, a0), Vector256.FusedMultiplyAdd(key, q1, a1), Vector256.FusedMultiplyAdd(key, q2, a2), Vector256.FusedMultiplyAdd(key, q3, a3));
            (b0, b1, b2, b3) = (Vector256.FusedMultiplyAdd(next, q0, b0), Vector256.FusedMultiplyAdd(next, q1, b1), Vector256.FusedMultiplyAdd(next, q2, b2), Vector256.FusedMultiplyAdd(next, q3, b3));
        }

        for (int key = 0; key < keyCount; key++)
        {
            byte* r = key == 0 ? row : second;
            float s0 = Vector256.Sum(key == 0 ? a0 : b0), s1 = Vector256.Sum(key == 0 ? a1 : b1);
            float s2 = Vector256.Sum(key == 0 ? a2 : b2), s3 = Vector256.Sum(key == 0 ? a3 : b3);
            for (int t = i; t < d; t++)
            {
                float value = TRow.One(r, t);
                s0 += value * queries[t];
                s1 += value * queries[d + t];
                s2 += value * queries[(2 * d) + t];
                s3 += value * queries[(3 * d) + t];
            }

            scores[key] = scale * s0;
            scores[lds + key] = scale * s1;
            scores[(2 * lds) + key] = scale * s2;
            scores[(3 * lds) + key] = scale * s3;
        }
    }

    /// <summary>Σ row[i]·x[i] over a row of <typeparamref name="TRow"/> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowDot<TRow>(byte* row, float* x, int d)
        where TRow : struct, IRowElements
    {
        Vector256<float> acc = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            acc = Vector256.FusedMultiplyAdd(TRow.Eight(row, i), Vector256.Load(x + i), acc);
        }

        float sum = Vector256.Sum(acc);
        for (; i < d; i++)
        {
            sum += TRow.One(row, i) * x[i];
        }

        return sum;
    }

    /// <summary>
    /// <see cref="RowDot"/> of four consecutive keys (rows <paramref name="stride"/> bytes apart), times
    /// <paramref name="scale"/>: four independent accumulators, so a key no longer waits for the previous key's FMA chain;
    /// each key's sum is in the same order as <see cref="RowDot"/>'s, so the scores are the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDot4<TRow>(byte* rows, long stride, float* x, int d, float scale, Span<float> scores)
        where TRow : struct, IRowElements
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> xi = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(TRow.Eight(rows, i), xi, a0);
            a1 = Vector256.FusedMultiplyAdd(TRow.Eight(rows + stride, i), xi, a1);
            a2 = Vector256.FusedMultiplyAdd(TRow.Eight(rows + (2 * stride), i), xi, a2);
            a3 = Vector256.FusedMultiplyAdd(TRow.Eight(rows + (3 * stride), i), xi, a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < d; i++)
        {
            s0 += TRow.One(rows, i) * x[i];
            s1 += TRow.One(rows + stride, i) * x[i];
            s2 += TRow.One(rows + (2 * stride), i) * x[i];
            s3 += TRow.One(rows + (3 * stride), i) * x[i];
        }

        (scores[0], scores[1], scores[2], scores[3]) = (scale * s0, scale * s1, scale * s2, scale * s3);
    }

    /// <summary>
    /// <see cref="RowAxpy"/> of four consecutive value rows, applied in order (the same bits as four calls), loading and
    /// storing y once instead of four times.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowAxpy4<TRow>(byte* rows, long stride, ReadOnlySpan<float> a, float* y, int d)
        where TRow : struct, IRowElements
    {
        Vector256<float> p0 = Vector256.Create(a[0]), p1 = Vector256.Create(a[1]), p2 = Vector256.Create(a[2]), p3 = Vector256.Create(a[3]);
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> acc = Vector256.FusedMultiplyAdd(TRow.Eight(rows, i), p0, Vector256.Load(y + i));
            acc = Vector256.FusedMultiplyAdd(TRow.Eight(rows + stride, i), p1, acc);
            acc = Vector256.FusedMultiplyAdd(TRow.Eight(rows + (2 * stride), i), p2, acc);
            Vector256.FusedMultiplyAdd(TRow.Eight(rows + (3 * stride), i), p3, acc).Store(y + i);
        }

        for (; i < d; i++)
        {
            float acc = y[i] + (a[0] * TRow.One(rows, i));
            acc += a[1] * TRow.One(rows + stride, i);
            acc += a[2] * TRow.One(rows + (2 * stride), i);
            y[i] = acc + (a[3] * TRow.One(rows + (3 * stride), i));
        }
    }

    /// <summary>y[i] += a·row[i] over a row of <typeparamref name="TRow"/> elements.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowAxpy<TRow>(byte* row, float a, float* y, int d)
        where TRow : struct, IRowElements
    {
        var scale = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256.FusedMultiplyAdd(TRow.Eight(row, i), scale, Vector256.Load(y + i)).Store(y + i);
        }

        for (; i < d; i++)
        {
            y[i] += a * TRow.One(row, i);
        }
    }
}

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
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1];
        int hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim, group = hq / hkv;
        float scale = options.EffectiveScale;
        byte* kp = Ptr(k), vp = Ptr(v);
        int element = k.DType.SizeInBytes();
        long stride = (long)hkv * d * element;
        DType dtype = k.DType;
        Parallel.For(0, batch * hkv, _parallel, bkv =>
        {
            int b = bkv / hkv, kvh = bkv % hkv;
            byte* keys = kp + ((((long)b * tk * hkv) + kvh) * d * element);
            byte* values = vp + ((((long)b * tk * hkv) + kvh) * d * element);
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
                        for (int j = 0; j < limit; j++)
                        {
                            DotFourHeads(keys + (j * stride), dtype, queries + (g * d), d, scale, scores + (g * tk) + j, tk);
                        }
                    }

                    for (; g < group; g++)
                    {
                        OneHeadScores(keys, stride, dtype, queries + (g * d), d, scale, scores + (g * tk), limit);
                    }

                    for (g = 0; g < group; g++)
                    {
                        softmaxRow(new Span<float>(scores + (g * tk), tk), b, (kvh * group) + g, t);
                        new Span<float>(outputs + (g * d), d).Clear();
                    }

                    for (g = 0; g + 4 <= group; g += 4)
                    {
                        FourHeadsOutput(values, stride, dtype, scores + (g * tk), tk, outputs + (g * d), d, limit);
                    }

                    for (; g < group; g++)
                    {
                        OneHeadOutput(values, stride, dtype, scores + (g * tk), outputs + (g * d), d, limit);
                    }
                }
            }

            System.Buffers.ArrayPool<float>.Shared.Return(rented);
        });
    }

    private static void OneHeadScores(byte* keys, long stride, DType dtype, float* query, int d, float scale, float* scores, int limit)
    {
        int j = 0;
        for (; j + 4 <= limit; j += 4)
        {
            RowDot4(keys + (j * stride), stride, dtype, query, d, scale, new Span<float>(scores + j, 4));
        }

        for (; j < limit; j++)
        {
            scores[j] = scale * RowDot(keys + (j * stride), dtype, query, d);
        }
    }

    private static void OneHeadOutput(byte* values, long stride, DType dtype, float* p, float* y, int d, int limit)
    {
        for (int j = 0; j < limit;)
        {
            if (j + 4 <= limit && FourNonZero(p + j))
            {
                RowAxpy4(values + (j * stride), stride, dtype, new ReadOnlySpan<float>(p + j, 4), y, d);
                j += 4;
                continue;
            }

            if (p[j] != 0f)
            {
                RowAxpy(values + (j * stride), dtype, p[j], y, d);
            }

            j++;
        }
    }

    /// <summary>The grouped loops take four probabilities together only when none is zero (a masked key is stepped around, as alone).</summary>
    private static bool FourNonZero(float* p) => p[0] != 0f && p[1] != 0f && p[2] != 0f && p[3] != 0f;

    /// <summary>Four heads' outputs (probabilities <paramref name="ldp"/> apart, outputs d apart), four keys at a time.</summary>
    private static void FourHeadsOutput(byte* values, long stride, DType dtype, float* p, int ldp, float* y, int d, int limit)
    {
        int j = 0;
        for (; j + 4 <= limit; j += 4)
        {
            if (FourNonZero(p + j) && FourNonZero(p + ldp + j) && FourNonZero(p + (2 * ldp) + j) && FourNonZero(p + (3 * ldp) + j))
            {
                AxpyFourHeads(values + (j * stride), stride, dtype, p + j, ldp, y, d);
                continue;
            }

            for (int g = 0; g < 4; g++)
            {
                OneHeadOutput(values + (j * stride), stride, dtype, p + (g * ldp) + j, y + (g * d), d, 4);
            }
        }

        for (int g = 0; g < 4; g++)
        {
            OneHeadOutput(values + (j * stride), stride, dtype, p + (g * ldp) + j, y + (g * d), d, limit - j);
        }
    }

    /// <summary>
    /// One key row against four consecutive query heads (d apart): the row is decoded once, and each head's sum is in
    /// <see cref="RowDot"/>'s order. Scores go <paramref name="lds"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotFourHeads(byte* row, DType dtype, float* queries, int d, float scale, float* scores, int lds)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> key = Eight(row, dtype, i);
            a0 = Vector256.FusedMultiplyAdd(key, Vector256.Load(queries + i), a0);
            a1 = Vector256.FusedMultiplyAdd(key, Vector256.Load(queries + d + i), a1);
            a2 = Vector256.FusedMultiplyAdd(key, Vector256.Load(queries + (2 * d) + i), a2);
            a3 = Vector256.FusedMultiplyAdd(key, Vector256.Load(queries + (3 * d) + i), a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < d; i++)
        {
            float key = One(row, dtype, i);
            s0 += key * queries[i];
            s1 += key * queries[d + i];
            s2 += key * queries[(2 * d) + i];
            s3 += key * queries[(3 * d) + i];
        }

        scores[0] = scale * s0;
        scores[lds] = scale * s1;
        scores[2 * lds] = scale * s2;
        scores[3 * lds] = scale * s3;
    }

    /// <summary>
    /// Four value rows into four heads' outputs: each row decoded once; per head the four keys are added in order, as
    /// <see cref="RowAxpy"/> would one after another.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyFourHeads(byte* rows, long stride, DType dtype, float* p, int ldp, float* y, int d)
    {
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> v0 = Eight(rows, dtype, i), v1 = Eight(rows + stride, dtype, i);
            Vector256<float> v2 = Eight(rows + (2 * stride), dtype, i), v3 = Eight(rows + (3 * stride), dtype, i);
            for (int g = 0; g < 4; g++)
            {
                float* pg = p + (g * ldp);
                float* yg = y + (g * d) + i;
                Vector256<float> acc = Vector256.FusedMultiplyAdd(v0, Vector256.Create(pg[0]), Vector256.Load(yg));
                acc = Vector256.FusedMultiplyAdd(v1, Vector256.Create(pg[1]), acc);
                acc = Vector256.FusedMultiplyAdd(v2, Vector256.Create(pg[2]), acc);
                Vector256.FusedMultiplyAdd(v3, Vector256.Create(pg[3]), acc).Store(yg);
            }
        }

        for (int g = 0; i < d && g < 4; g++)
        {
            OneHeadOutput(rows + (i * dtype.SizeInBytes()), stride, dtype, p + (g * ldp), y + (g * d) + i, d - i, 4);
        }
    }

    /// <summary>Σ row[i]·x[i] over a row stored as f32, f16 or bf16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowDot(byte* row, DType dtype, float* x, int d)
    {
        Vector256<float> acc = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            acc = Vector256.FusedMultiplyAdd(Eight(row, dtype, i), Vector256.Load(x + i), acc);
        }

        float sum = Vector256.Sum(acc);
        for (; i < d; i++)
        {
            sum += One(row, dtype, i) * x[i];
        }

        return sum;
    }

    /// <summary>
    /// <see cref="RowDot"/> of four consecutive keys (rows <paramref name="stride"/> bytes apart), times
    /// <paramref name="scale"/>: four independent accumulators, so a key no longer waits for the previous key's FMA chain;
    /// each key's sum is in the same order as <see cref="RowDot"/>'s, so the scores are the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDot4(byte* rows, long stride, DType dtype, float* x, int d, float scale, Span<float> scores)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> xi = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(Eight(rows, dtype, i), xi, a0);
            a1 = Vector256.FusedMultiplyAdd(Eight(rows + stride, dtype, i), xi, a1);
            a2 = Vector256.FusedMultiplyAdd(Eight(rows + (2 * stride), dtype, i), xi, a2);
            a3 = Vector256.FusedMultiplyAdd(Eight(rows + (3 * stride), dtype, i), xi, a3);
        }

        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < d; i++)
        {
            s0 += One(rows, dtype, i) * x[i];
            s1 += One(rows + stride, dtype, i) * x[i];
            s2 += One(rows + (2 * stride), dtype, i) * x[i];
            s3 += One(rows + (3 * stride), dtype, i) * x[i];
        }

        (scores[0], scores[1], scores[2], scores[3]) = (scale * s0, scale * s1, scale * s2, scale * s3);
    }

    /// <summary>
    /// <see cref="RowAxpy"/> of four consecutive value rows, applied in order (the same bits as four calls), loading and
    /// storing y once instead of four times.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowAxpy4(byte* rows, long stride, DType dtype, ReadOnlySpan<float> a, float* y, int d)
    {
        Vector256<float> p0 = Vector256.Create(a[0]), p1 = Vector256.Create(a[1]), p2 = Vector256.Create(a[2]), p3 = Vector256.Create(a[3]);
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256<float> acc = Vector256.FusedMultiplyAdd(Eight(rows, dtype, i), p0, Vector256.Load(y + i));
            acc = Vector256.FusedMultiplyAdd(Eight(rows + stride, dtype, i), p1, acc);
            acc = Vector256.FusedMultiplyAdd(Eight(rows + (2 * stride), dtype, i), p2, acc);
            Vector256.FusedMultiplyAdd(Eight(rows + (3 * stride), dtype, i), p3, acc).Store(y + i);
        }

        for (; i < d; i++)
        {
            float acc = y[i] + (a[0] * One(rows, dtype, i));
            acc += a[1] * One(rows + stride, dtype, i);
            acc += a[2] * One(rows + (2 * stride), dtype, i);
            y[i] = acc + (a[3] * One(rows + (3 * stride), dtype, i));
        }
    }

    /// <summary>y[i] += a·row[i] over a row stored as f32, f16 or bf16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowAxpy(byte* row, DType dtype, float a, float* y, int d)
    {
        var scale = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= d; i += 8)
        {
            Vector256.FusedMultiplyAdd(Eight(row, dtype, i), scale, Vector256.Load(y + i)).Store(y + i);
        }

        for (; i < d; i++)
        {
            y[i] += a * One(row, dtype, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Eight(byte* row, DType dtype, int at) => dtype switch
    {
        DType.BF16 => (Vector256.WidenLower(Vector128.Load((ushort*)row + at).ToVector256()) << 16).AsSingle(),
        DType.F16 => F16Weights.HalfBits(Vector256.WidenLower(Vector128.Load((ushort*)row + at).ToVector256())),
        _ => Vector256.Load((float*)row + at),
    };

    private static float One(byte* row, DType dtype, int at) => dtype switch
    {
        DType.BF16 => FloatBits.BF16ToF32(((ushort*)row)[at]),
        DType.F16 => FloatBits.F16ToF32(((ushort*)row)[at]),
        _ => ((float*)row)[at],
    };
}

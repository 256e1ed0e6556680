using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Bound on one block of attention scores (queries × keys, f32).</summary>
    private const long ScoreBudgetBytes = 32L << 20;

    /// <summary>Whole heads go to threads one each when every head's score matrix is at most this many entries (4 MiB).</summary>
    private const long HeadParallelScores = 1 << 20;

    /// <summary>
    /// softmax(scale·Q·Kᵀ + mask)·V per (batch, head). Up to <see cref="DecodeAttentionRows"/> query rows read K and V in place
    /// (<see cref="DecodeAttention"/>); more run two strided GEMMs reading heads straight out of the (B, T, H·D) layout. Short sequences with enough heads to share out (CLIP's 77 tokens × 12 heads, the perceiver, decode) run
    /// whole heads in parallel on single-threaded GEMMs; long ones run heads in turn, queries in blocks so the score
    /// matrix stays bounded, each GEMM on every thread. Which way depends only on the shapes and the thread count, so a
    /// result repeats on a given machine and thread count.
    /// </summary>
    protected override Tensor AttentionCore(Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1];
        int hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim;
        int[] keyLengths = options.KeyLengths?.ToInts() ?? Enumerable.Repeat(tk, batch).ToArray();
        TensorValueException.ThrowIfOutside(keyLengths, 1, tk, length => TensorValueException.KeyLength(length, tk));
        int[]? keyMask = options.KeyMask?.ToInts();
        float[]? bias = options.Bias?.ToFloats();
        int biasHeads = options.Bias?.Shape[1] ?? 1;
        using F32Input qs = Read(q);
        F32Output y = Write(q.Shape, q.DType);
        float scale = options.EffectiveScale;

        // One query row of head h of batch item b at query index t: the causal / key-length limit, the mask and bias.
        void SoftmaxRow(Span<float> row, int b, int h, int t)
        {
            int limit = options.Causal ? Math.Min(keyLengths[b], t + (tk - tq) + 1) : keyLengths[b];
            if (keyMask is null && bias is null)
            {
                MaskedSoftmaxRow(row, limit);
                return;
            }

            long biasAt = ((((long)b * biasHeads) + (biasHeads == 1 ? 0 : h)) * tq + t) * tk;
            ExcludingSoftmaxRow(row, limit, keyMask.AsSpan(keyMask is null ? 0 : b * tk), bias.AsSpan(bias is null ? 0 : (int)biasAt));
        }

        if (tq <= DecodeAttentionRows)
        {
            DecodeAttention(q, k, v, options, qs.Pointer, y.Pointer, SoftmaxRow, keyLengths);
            return y.Finish();
        }

        using F32Input ks = Read(k);
        using F32Input vs = Read(v);
        float* qp = qs.Pointer, kp = ks.Pointer, vp = vs.Pointer, yp = y.Pointer;

        float* Head(float* p, int b, int t, int h, int heads, int length) => p + ((((long)b * length) + t) * heads * d) + (h * d);

        if ((long)tq * tk <= HeadParallelScores && batch * hq >= 2 * Threads)
        {
            OpenBlas.SerialRegion(() => Parallel.For(0, batch * hq, _parallel, bh =>
            {
                int b = bh / hq, h = bh % hq, kvh = h / (hq / hkv);
                float[] scores = System.Buffers.ArrayPool<float>.Shared.Rent(tq * tk);
                fixed (float* s = scores)
                {
                    OpenBlas.SgemmSerial(false, true, tq, tk, d, scale, Head(qp, b, 0, h, hq, tq), hq * d, Head(kp, b, 0, kvh, hkv, tk), hkv * d, 0f, s, tk);
                    for (int t = 0; t < tq; t++)
                    {
                        SoftmaxRow(new Span<float>(s + ((long)t * tk), tk), b, h, t);
                    }

                    OpenBlas.SgemmSerial(false, false, tq, d, tk, 1f, s, tk, Head(vp, b, 0, kvh, hkv, tk), hkv * d, 0f, Head(yp, b, 0, h, hq, tq), hq * d);
                }

                System.Buffers.ArrayPool<float>.Shared.Return(scores);
            }));
            return y.Finish();
        }

        int block = (int)Math.Clamp(ScoreBudgetBytes / ((long)Math.Max(tk, 1) * 4), 1, Math.Max(tq, 1));
        using BufferPool.Rental scoreRental = Scratch((long)block * tk * 4);
        float* sp = (float*)scoreRental.Pointer;
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < hq; h++)
            {
                int kvh = h / (hq / hkv);
                for (int q0 = 0; q0 < tq; q0 += block)
                {
                    int rows = Math.Min(block, tq - q0), item = b, head = h, start = q0;
                    OpenBlas.Sgemm(Threads, false, true, rows, tk, d, scale, Head(qp, b, q0, h, hq, tq), hq * d, Head(kp, b, 0, kvh, hkv, tk), hkv * d, 0f, sp, tk);
                    ParallelRows(rows, tk, r => SoftmaxRow(new Span<float>(sp + (r * tk), tk), item, head, start + (int)r));
                    OpenBlas.Sgemm(Threads, false, false, rows, d, tk, 1f, sp, tk, Head(vp, b, 0, kvh, hkv, tk), hkv * d, 0f, Head(yp, b, q0, h, hq, tq), hq * d);
                }
            }
        }

        return y.Finish();
    }

    protected override void KvCacheWriteCore(Tensor cache, Tensor values, Tensor positions)
    {
        int[] at = positions.ToInts();
        int lastStart = cache.Shape[1] - values.Shape[1];
        TensorValueException.ThrowIfOutside(at, 0, lastStart, p => TensorValueException.CachePosition(p, lastStart));
        long rowBytes = (long)cache.Shape[2] * cache.DType.SizeInBytes();
        long chunk = values.Shape[1] * rowBytes;
        for (int b = 0; b < at.Length; b++)
        {
            CopyRows(Ptr(values) + (b * chunk), chunk, Ptr(cache) + (((long)b * cache.Shape[1]) + at[b]) * rowBytes, chunk, 1, chunk);
        }
    }

    /// <summary>
    /// Softmax over the first <paramref name="visible"/> entries with <paramref name="bias"/> added and keys whose
    /// <paramref name="mask"/> entry is 0 excluded (empty spans: none); excluded entries, and every entry of a row with
    /// no key left, become exact zeros.
    /// </summary>
    private static void ExcludingSoftmaxRow(Span<float> row, int visible, ReadOnlySpan<int> mask, ReadOnlySpan<float> bias)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < visible; j++)
        {
            if (mask.IsEmpty || mask[j] != 0)
            {
                row[j] += bias.IsEmpty ? 0f : bias[j];
                max = MathF.Max(max, row[j]);
            }
        }

        if (float.IsNegativeInfinity(max))
        {
            row.Clear();
            return;
        }

        float sum = 0f;
        for (int j = 0; j < visible; j++)
        {
            row[j] = mask.IsEmpty || mask[j] != 0 ? MathF.Exp(row[j] - max) : 0f;
            sum += row[j];
        }

        for (int j = 0; j < visible; j++)
        {
            row[j] /= sum;
        }

        row[visible..].Clear();
    }

    /// <summary>Softmax over the first <paramref name="visible"/> entries; the rest become exact zeros.</summary>
    private static void MaskedSoftmaxRow(Span<float> row, int visible)
    {
        SoftmaxInPlace(row[..visible]);
        row[visible..].Clear();
    }
}

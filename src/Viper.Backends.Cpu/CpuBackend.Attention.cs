using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Bound on one block of attention scores (queries × keys, f32).</summary>
    private const long ScoreBudgetBytes = 32L << 20;

    /// <summary>
    /// softmax(scale·Q·Kᵀ + mask)·V per (batch, head) with two strided GEMMs reading heads straight out
    /// of the (B, T, H·D) layout, queries processed in blocks so the score matrix stays bounded.
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
        using F32Input ks = Read(k);
        using F32Input vs = Read(v);
        F32Output y = Write(q.Shape, q.DType);
        int block = (int)Math.Clamp(ScoreBudgetBytes / ((long)Math.Max(tk, 1) * 4), 1, Math.Max(tq, 1));
        using BufferPool.Rental scores = Scratch((long)block * tk * 4);
        float* s = (float*)scores.Pointer;
        float* yp = y.Pointer;
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < hq; h++)
            {
                int kvh = h / (hq / hkv);
                float* kh = ks.Pointer + ((long)b * tk * hkv * d) + (kvh * d);
                float* vh = vs.Pointer + ((long)b * tk * hkv * d) + (kvh * d);
                for (int q0 = 0; q0 < tq; q0 += block)
                {
                    int rows = Math.Min(block, tq - q0);
                    float* qh = qs.Pointer + ((((long)b * tq) + q0) * hq * d) + (h * d);
                    OpenBlas.Sgemm(Threads, false, true, rows, tk, d, options.EffectiveScale, qh, hq * d, kh, hkv * d, 0f, s, tk);
                    int visible = keyLengths[b];
                    bool causal = options.Causal;
                    int start = q0;
                    int head = h, item = b;
                    ParallelRows(rows, r =>
                    {
                        int limit = causal ? Math.Min(visible, start + (int)r + (tk - tq) + 1) : visible;
                        var row = new Span<float>(s + (r * tk), tk);
                        if (keyMask is null && bias is null)
                        {
                            MaskedSoftmaxRow(row, limit);
                        }
                        else
                        {
                            long biasAt = ((((long)item * biasHeads) + (biasHeads == 1 ? 0 : head)) * tq + start + r) * tk;
                            ExcludingSoftmaxRow(row, limit, keyMask.AsSpan(keyMask is null ? 0 : item * tk), bias.AsSpan(bias is null ? 0 : (int)biasAt));
                        }
                    });
                    float* yh = yp + ((((long)b * tq) + q0) * hq * d) + (h * d);
                    OpenBlas.Sgemm(Threads, false, false, rows, d, tk, 1f, s, tk, vh, hkv * d, 0f, yh, hq * d);
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

    protected override void KvCacheAppendCore(Tensor cache, Tensor values, int position)
    {
        long rowBytes = (long)cache.Shape[2] * cache.DType.SizeInBytes();
        long chunk = values.Shape[1] * rowBytes;
        CopyRows(Ptr(values), chunk, Ptr(cache) + (position * rowBytes), cache.Shape[1] * rowBytes, cache.Shape[0], chunk);
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

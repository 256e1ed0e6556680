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
    /// no widened copy of the cache (whose capacity can be thousands of positions), no BLAS call. One (batch, head) per
    /// work item; per query row, scores q·kⱼ for the visible keys, the same softmax as the GEMM path, then Σ pⱼ·vⱼ in f32.
    /// </summary>
    private void DecodeAttention(Tensor q, Tensor k, Tensor v, AttentionOptions options, float* qp, float* yp, Action<Span<float>, int, int, int> softmaxRow,
        int[] keyLengths)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1];
        int hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim;
        float scale = options.EffectiveScale;
        byte* kp = Ptr(k), vp = Ptr(v);
        int element = k.DType.SizeInBytes();
        DType dtype = k.DType;
        Parallel.For(0, batch * hq, _parallel, bh =>
        {
            int b = bh / hq, h = bh % hq, kvh = h / (hq / hkv);
            float[] scores = System.Buffers.ArrayPool<float>.Shared.Rent(tk);
            for (int t = 0; t < tq; t++)
            {
                float* query = qp + ((((long)b * tq) + t) * hq * d) + (h * d);
                int limit = options.Causal ? Math.Min(keyLengths[b], t + (tk - tq) + 1) : keyLengths[b];
                for (int j = 0; j < limit; j++)
                {
                    scores[j] = scale * RowDot(kp + (((((long)b * tk) + j) * hkv) + kvh) * d * element, dtype, query, d);
                }

                Span<float> row = scores.AsSpan(0, tk);
                softmaxRow(row, b, h, t);
                float* output = yp + ((((long)b * tq) + t) * hq * d) + (h * d);
                new Span<float>(output, d).Clear();
                for (int j = 0; j < limit; j++)
                {
                    if (scores[j] != 0f)
                    {
                        RowAxpy(vp + (((((long)b * tk) + j) * hkv) + kvh) * d * element, dtype, scores[j], output, d);
                    }
                }
            }

            System.Buffers.ArrayPool<float>.Shared.Return(scores);
        });
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

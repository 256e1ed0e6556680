using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// The decode-time linear: y (M, N) = x (M, K) · dequant(W)ᵀ for M ≤ <see cref="MaxRows"/>, streaming each weight byte
/// once and decoding it in registers (<see cref="IWeightDecoder"/>), with no widened copy and no BLAS call (so no
/// OpenBLAS lock). Work is split over output columns only, in fixed column ranges, and every output is one thread's
/// dot product in K order: results do not depend on the thread count. A weight held in chunked tiles
/// (<see cref="ChunkedRows"/>, a long K) is read tile by tile, each row's sum the chunks' sums added in K order.
/// </summary>
internal static unsafe class StreamingGemv
{
    /// <summary>Rows of x handled per pass over the weights; more rows go to the GEMM path.</summary>
    public const int MaxRows = 8;

    /// <summary>Output columns per parallel work item: small enough to balance, large enough to amortize scheduling.</summary>
    private const int ColumnsPerItem = 64;

    /// <summary>
    /// <paramref name="y"/>[r·n + c] = Σₖ x[r·k + i]·w[c, i] · scale + (addToY ? y[r·n + c] : 0); <paramref name="scale"/>
    /// is null (no per-channel scale), one value, or n values.
    /// </summary>
    /// <param name="chunked">Whether <paramref name="w"/> is held in chunked tiles (<see cref="ChunkedRows"/>).</param>
    public static void Run(DType format, byte* w, bool chunked, float* scale, int scaleCount, float* x, int m, int k, float* y, int n, bool addToY, SpinningWorkers workers)
    {
        var job = new Job(w, format.BytesFor(k), scale, scaleCount, x, m, k, y, n, addToY);
        int items = chunked ? ChunkedRows.Tiles(n) : (n + ColumnsPerItem - 1) / ColumnsPerItem;
        Action<int> body = format switch
        {
            DType.BF16 => chunked ? job.Tile<BF16Weights> : job.Columns<BF16Weights>,
            DType.F16 => chunked ? job.Tile<F16Weights> : job.Columns<F16Weights>,
            DType.I8 => chunked ? job.Tile<Int8Weights> : job.Columns<Int8Weights>,
            DType.Q8_0 => chunked ? job.Tile<Q8_0Weights> : job.Columns<Q8_0Weights>,
            DType.Q4_0 => job.Columns<Q4_0Weights>,
            DType.F8E4M3 => chunked ? job.Tile<E4M3Weights> : job.Columns<E4M3Weights>,
            DType.F8E5M2 => chunked ? job.Tile<E5M2Weights> : job.Columns<E5M2Weights>,
            _ => throw new ArgumentException($"no streaming linear for {format.Label()} weights", nameof(format)),
        };
        workers.Run(items, body);
    }

    private sealed class Job(byte* w, long rowBytes, float* scale, int scaleCount, float* x, int m, int k, float* y, int n, bool addToY)
    {
        /// <summary>One tile of a <see cref="ChunkedRows"/> weight (<see cref="ChunkedRows.Gemv"/>).</summary>
        public void Tile<TDecoder>(int item)
            where TDecoder : struct, IWeightDecoder =>
            ChunkedRows.Gemv(new ChunkDots<TDecoder>(this), w, n, k, ChunkedRows.BlockBytes(TDecoder.Format), item, m, scale, scaleCount, y, addToY);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the hot loop: optimized at once, not after tiering (a benchmark's first calls)
        public void Columns<TDecoder>(int item)
            where TDecoder : struct, IWeightDecoder
        {
            int first = item * ColumnsPerItem, end = Math.Min(n, first + ColumnsPerItem);
            int whole = k / 32 * 32;
            Span<float> dots = stackalloc float[MaxRows];
            for (int c = first; c < end; c++)
            {
                byte* row = w + (c * rowBytes);
                if (m == 1)
                {
                    dots[0] = OneRow<TDecoder>(row, whole, x);
                }
                else
                {
                    SeveralRows<TDecoder>(row, whole, dots, x);
                }

                float s = scale is null ? 1f : scale[scaleCount == 1 ? 0 : c];
                for (int r = 0; r < m; r++)
                {
                    float dot = dots[r];
                    for (int i = whole; i < k; i++)
                    {
                        dot += x[((long)r * k) + i] * TDecoder.Decode1(row, i);
                    }

                    float* at = y + ((long)r * n) + c;
                    *at = (dot * s) + (addToY ? *at : 0f);
                }
            }
        }

        /// <summary>Σ x[i]·row[i] over the first <paramref name="whole"/> values (a multiple of 32) of one row of x.</summary>
        private static float OneRow<TDecoder>(byte* row, int whole, float* x)
            where TDecoder : struct, IWeightDecoder
        {
            if (Avx512F.IsSupported)
            {
                return OneRowWide<TDecoder>(row, whole, x);
            }

            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < whole; i += 32)
            {
                TDecoder.Decode32(row, i, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3);
                float* xi = x + i;
                a0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(xi), a0);
                a1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(xi + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(xi + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(xi + 24), a3);
            }

            return Vector256.Sum((a0 + a1) + (a2 + a3));
        }

        // AVX-512: half the instructions per weight byte, which is what a one-row decode is bound by on few cores. Four
        // accumulators: with two, the FMA latency (4 cycles) capped a core at 64 weight values per 4 cycles.
        private static float OneRowWide<TDecoder>(byte* row, int whole, float* x)
            where TDecoder : struct, IWeightDecoder
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i + 64 <= whole; i += 64)
            {
                TDecoder.Decode32Wide(row, i, out Vector512<float> w0, out Vector512<float> w1);
                TDecoder.Decode32Wide(row, i + 32, out Vector512<float> w2, out Vector512<float> w3);
                a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x + i + 48), a3);
            }

            if (i < whole)
            {
                TDecoder.Decode32Wide(row, i, out Vector512<float> w0, out Vector512<float> w1);
                a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + i + 16), a1);
            }

            return Vector512.Sum((a0 + a1) + (a2 + a3));
        }

        /// <summary><see cref="OneRow"/> for each of the m rows of x (k apart) at once.</summary>
        private void SeveralRows<TDecoder>(byte* row, int whole, Span<float> dots, float* x)
            where TDecoder : struct, IWeightDecoder
        {
            Vector256<float>* acc = stackalloc Vector256<float>[MaxRows * 2];
            for (int r = 0; r < m * 2; r++)
            {
                acc[r] = default;
            }

            for (int i = 0; i < whole; i += 32)
            {
                TDecoder.Decode32(row, i, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3);
                for (int r = 0; r < m; r++)
                {
                    float* xi = x + ((long)r * k) + i;
                    acc[2 * r] = Vector256.FusedMultiplyAdd(w0, Vector256.Load(xi), Vector256.FusedMultiplyAdd(w2, Vector256.Load(xi + 16), acc[2 * r]));
                    acc[(2 * r) + 1] = Vector256.FusedMultiplyAdd(w1, Vector256.Load(xi + 8), Vector256.FusedMultiplyAdd(w3, Vector256.Load(xi + 24), acc[(2 * r) + 1]));
                }
            }

            for (int r = 0; r < m; r++)
            {
                dots[r] = Vector256.Sum(acc[2 * r] + acc[(2 * r) + 1]);
            }
        }

        /// <summary>A chunk of a <see cref="ChunkedRows"/> weight row against the same chunk of each row of x: <see cref="OneRow"/> or <see cref="SeveralRows"/>.</summary>
        private void DotsOfChunk<TDecoder>(byte* chunk, int start, int length, float* dots)
            where TDecoder : struct, IWeightDecoder
        {
            if (m == 1)
            {
                dots[0] = OneRow<TDecoder>(chunk, length, x + start);
            }
            else
            {
                SeveralRows<TDecoder>(chunk, length, new Span<float>(dots, MaxRows), x + start);
            }
        }

        /// <summary><see cref="DotsOfChunk"/> for <see cref="ChunkedRows.Gemv"/>.</summary>
        private readonly struct ChunkDots<TDecoder>(Job job) : ChunkedRows.IChunkDots
            where TDecoder : struct, IWeightDecoder
        {
            public void Dots(byte* chunk, int start, int length, float* dots) => job.DotsOfChunk<TDecoder>(chunk, start, length, dots);
        }
    }
}

using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>f32 scratch for one panel of a low-precision weight (rows of W widened just before their GEMM).</summary>
    private const long WeightPanelBytes = 8L << 20;

    /// <summary>
    /// f32 weights: one GEMM. f16/bf16 weights stay in their dtype: W is widened one panel of rows at a time into a
    /// bounded scratch and each panel's GEMM writes its slice of output columns, so an 8B bf16 model needs no f32 copy
    /// of any matrix (the widened copy of a 32000×4096 head alone would be 500 MB). Panels split N only, so every
    /// output is still one dot product over the whole K.
    /// </summary>
    protected override Tensor LinearCore(Tensor x, Tensor weight, Tensor? bias, Shape outShape)
    {
        int k = weight.Shape[1];
        int n = weight.Shape[0];
        int m = checked((int)x.Shape.Rows);
        using F32Input xs = Read(x);
        using F32Input bs = bias is null ? default : Read(bias);
        F32Output y = Write(outShape, x.DType);
        float beta = BroadcastBias(y.Pointer, m, n, bias is null ? null : bs.Pointer);
        if (weight.DType == DType.F32)
        {
            OpenBlas.Sgemm(Threads, false, true, m, n, k, 1f, xs.Pointer, k, (float*)Ptr(weight), k, beta, y.Pointer, n);
            return y.Finish();
        }

        int panelRows = (int)Math.Clamp(WeightPanelBytes / 4 / Math.Max(k, 1), 16, Math.Max(n, 16));
        using BufferPool.Rental panel = Scratch((long)panelRows * k * 4);
        float* wp = (float*)panel.Pointer;
        for (int row = 0; row < n; row += panelRows)
        {
            int rows = Math.Min(panelRows, n - row);
            WidenRows(weight, row, rows, wp);
            OpenBlas.Sgemm(Threads, false, true, m, rows, k, 1f, xs.Pointer, k, wp, k, beta, y.Pointer + row, n);
        }

        return y.Finish();
    }

    protected override Tensor MatMulCore(Tensor a, Tensor b, bool transposeB, float alpha, bool transposeA, Shape outShape)
    {
        int batch = a.Shape[0], m = outShape[1], k = transposeA ? a.Shape[1] : a.Shape[2], n = outShape[2];
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(outShape, a.DType);
        for (int i = 0; i < batch; i++)
        {
            OpenBlas.Sgemm(Threads, transposeA, transposeB, m, n, k, alpha,
                av.Pointer + ((long)i * m * k), transposeA ? m : k,
                bv.Pointer + ((long)i * k * n), transposeB ? k : n,
                0f, y.Pointer + ((long)i * m * n), n);
        }

        return y.Finish();
    }

    /// <summary>Widens rows [first, first + count) of a (N, K) f16/bf16 matrix into f32, in parallel chunks.</summary>
    private void WidenRows(Tensor matrix, int first, int count, float* destination)
    {
        int k = matrix.Shape[1];
        ushort* source = (ushort*)Ptr(matrix) + ((long)first * k);
        bool bf16 = matrix.DType == DType.BF16;
        ParallelChunks((long)count * k, (start, end) =>
        {
            var from = new ReadOnlySpan<ushort>(source + start, (int)(end - start));
            var to = new Span<float>(destination + start, (int)(end - start));
            if (bf16)
            {
                FloatBits.BF16ToF32(from, to);
            }
            else
            {
                FloatBits.F16ToF32(from, to);
            }
        });
    }
}

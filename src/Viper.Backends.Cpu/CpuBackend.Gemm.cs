using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>f32 scratch for one panel of a low-precision weight (rows of W widened just before their GEMM).</summary>
    private const long WeightPanelBytes = 8L << 20;

    /// <summary>
    /// f32 weights: one GEMM. Any other weight stays as stored. Up to <see cref="StreamingGemv.MaxRows"/> rows of x
    /// (decode): each weight byte is streamed once and decoded in registers — Q8_0/Q4_0 in integer dot products against
    /// Q8_0-quantized activations, as llama.cpp does (<see cref="BlockDotGemv"/>; a Q4_0 matrix is rearranged eight rows
    /// interleaved at its first decode, <see cref="EightRowQ4"/>, and stays so). More rows (prefill): W is dequantized one
    /// panel of rows at a time into a bounded f32 scratch and each panel's GEMM writes its slice of output columns, so no
    /// matrix ever has an f32 copy (the widened copy of a 32000×4096 head alone would be 500 MB). Either way every
    /// output is one dot product over the whole K.
    /// </summary>
    protected override Tensor LinearCore(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale, Shape outShape)
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

        float* scale = weightScale is null ? null : (float*)Ptr(weightScale);
        int scaleCount = weightScale is null ? 0 : weightScale.Shape[0];
        if (m <= StreamingGemv.MaxRows && BlockDotGemv.Applies(weight.DType))
        {
            byte* eightRows = weight.DType == DType.Q4_0 && IsWholeStorage(weight) && EightRowQ4.Fits(n, k)
                ? ((CpuStorage)weight.Storage).EightRowQ4Pointer(n, k)
                : null;
            byte* tiles = ChunkedRowsOrNull(weight, n, k);
            WeightLayout layout = eightRows is not null ? WeightLayout.EightRowQ4 : tiles is not null ? WeightLayout.ChunkedRows : WeightLayout.Plain;
            byte* held = eightRows is not null ? eightRows : tiles is not null ? tiles : Ptr(weight);
            BlockDotGemv.Run(weight.DType, held, layout, xs.Pointer, m, k, y.Pointer, n, beta != 0, _workers);
            return y.Finish();
        }

        if (m <= StreamingGemv.MaxRows)
        {
            byte* chunked = ChunkedRowsOrNull(weight, n, k);
            StreamingGemv.Run(weight.DType, chunked is null ? Ptr(weight) : chunked, chunked is not null, scale, scaleCount, xs.Pointer, m, k, y.Pointer, n, beta != 0, _workers);
            return y.Finish();
        }

        int panelRows = (int)Math.Clamp(WeightPanelBytes / 4 / Math.Max(k, 1), 16, Math.Max(n, 16));
        using BufferPool.Rental panel = Scratch((long)panelRows * k * 4);
        float* wp = (float*)panel.Pointer;
        long rowBytes = weight.DType.BytesFor(k);
        // After a decode the weight may be in a decode layout: read as it is, not restored for each prefill.
        bool eightRowQ4 = IsWholeStorage(weight) && ((CpuStorage)weight.Storage).IsEightRowQ4;
        bool chunkedRows = IsWholeStorage(weight) && ((CpuStorage)weight.Storage).IsChunkedRows;
        byte* w = eightRowQ4 || chunkedRows ? ((CpuStorage)weight.Storage).RawPointer : Ptr(weight);
        for (int row = 0; row < n; row += panelRows)
        {
            int rows = Math.Min(panelRows, n - row), first = row;
            ParallelRows(rows, k, r =>
            {
                float rowScale = scale is null ? 1f : scale[scaleCount == 1 ? 0 : first + (int)r];
                if (eightRowQ4)
                {
                    WeightRows.DequantizeEightRowQ4(w, n, first + (int)r, k, wp + (r * k));
                }
                else if (chunkedRows)
                {
                    WeightRows.DequantizeChunkedRow(weight.DType, w, n, first + (int)r, k, rowScale, wp + (r * k));
                }
                else
                {
                    WeightRows.Dequantize(weight.DType, w + ((first + r) * rowBytes), k, rowScale, wp + (r * k));
                }
            });
            OpenBlas.Sgemm(Threads, false, true, m, rows, k, 1f, xs.Pointer, k, wp, k, beta, y.Pointer + row, n);
        }

        return y.Finish();
    }

    /// <summary>The weight's bytes in chunked tiles for a decode (<see cref="ChunkedRows"/>), rearranged now if need be; null when it is not held so.</summary>
    private static byte* ChunkedRowsOrNull(Tensor weight, int n, int k) =>
        ChunkedRows.Applies(weight.DType, n, k) && IsWholeStorage(weight)
            ? ((CpuStorage)weight.Storage).ChunkedRowsPointer(n, k, ChunkedRows.BlockBytes(weight.DType))
            : null;

    /// <summary>Whether the tensor is its storage's whole matrix (a layout of the storage then is the tensor's).</summary>
    private static bool IsWholeStorage(Tensor t) => t.ByteOffset == 0 && t.SizeInBytes == t.Storage.SizeInBytes;

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
}

using System.Numerics.Tensors;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Bound on the im2col scratch per chunk of output rows.</summary>
    private const long Im2ColBudgetBytes = 64L << 20;

    /// <summary>
    /// NHWC convolution as im2col + one GEMM per chunk of output rows: the columns matrix is
    /// (rows·Wo, KH·KW·Cin) against the weight (Cout, KH·KW·Cin), both row-major. A 1×1 stride-1
    /// unpadded convolution skips im2col and is a plain GEMM; a wide 3×3 stride-1 "same" one runs as Winograd
    /// F(2×2, 3×3) (CpuBackend.Winograd.cs).
    /// </summary>
    protected override Tensor Conv2dCore(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual, Shape outShape)
    {
        int batch = x.Shape[0], h = x.Shape[1], w = x.Shape[2], cin = x.Shape[3];
        int cout = weight.Shape[0], kh = weight.Shape[1], kw = weight.Shape[2];
        int ho = outShape[1], wo = outShape[2];
        int patch = kh * kw * cin;
        using F32Input xs = Read(x);
        using F32Input ws = Read(weight);
        using F32Input bs = bias is null ? default : Read(bias);
        using F32Input rs = residual is null ? default : Read(residual);
        F32Output y = Write(outShape, x.DType);
        if (UsesWinograd(kh, kw, h, w, cin, cout, options))
        {
            WinogradConv(xs.Pointer, batch, h, w, cin, ws.Pointer, cout, bias is null ? null : bs.Pointer, residual is null ? null : rs.Pointer, y.Pointer);
            return y.Finish();
        }

        bool pointwise = kh == 1 && kw == 1 && options.Stride == 1 && options.Padding == default;
        int rowsPerChunk = (int)Math.Clamp(Im2ColBudgetBytes / ((long)wo * patch * 4), 1, ho);
        using BufferPool.Rental? cols = pointwise ? null : Scratch((long)rowsPerChunk * wo * patch * 4);
        float beta = BroadcastBias(y.Pointer, outShape.Rows, cout, bias is null ? null : bs.Pointer);
        for (int n = 0; n < batch; n++)
        {
            float* image = xs.Pointer + ((long)n * h * w * cin);
            float* output = y.Pointer + ((long)n * ho * wo * cout);
            if (pointwise)
            {
                OpenBlas.Sgemm(Threads, false, true, h * w, cout, cin, 1f, image, cin, ws.Pointer, cin, beta, output, cout);
                continue;
            }

            for (int r0 = 0; r0 < ho; r0 += rowsPerChunk)
            {
                int rows = Math.Min(rowsPerChunk, ho - r0);
                float* c = (float*)cols!.Pointer;
                ParallelRows(rows * wo, pos => Im2ColRow(image, h, w, cin, kh, kw, options,
                    r0 + (int)(pos / wo), (int)(pos % wo), c + (pos * patch)));
                OpenBlas.Sgemm(Threads, false, true, rows * wo, cout, patch, 1f, c, patch, ws.Pointer, patch, beta,
                    output + ((long)r0 * wo * cout), cout);
            }
        }

        if (residual is not null)
        {
            TensorPrimitives.Add(y.Span, rs.Span, y.Span);
        }

        return y.Finish();
    }

    private static void Im2ColRow(float* image, int h, int w, int cin, int kh, int kw, Conv2dOptions o,
        int oy, int ox, float* column)
    {
        for (int ky = 0; ky < kh; ky++)
        {
            int iy = (oy * o.Stride) - o.Padding.Top + ky;
            for (int kx = 0; kx < kw; kx++)
            {
                int ix = (ox * o.Stride) - o.Padding.Left + kx;
                var dst = new Span<float>(column + (((ky * kw) + kx) * cin), cin);
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                {
                    dst.Clear();
                }
                else
                {
                    new ReadOnlySpan<float>(image + ((((long)iy * w) + ix) * cin), cin).CopyTo(dst);
                }
            }
        }
    }
}

using System.Numerics.Tensors;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Bound on the im2col scratch per chunk of output rows.</summary>
    private const long Im2ColBudgetBytes = 64L << 20;

    /// <summary>
    /// NHWC convolution by one of three routines, chosen by shape alone: Winograd F(2×2, 3×3) for wide 3×3 "same"
    /// convolutions on large images (CpuBackend.Winograd.cs), a direct register-blocked loop for narrow ones
    /// (CpuBackend.DirectConv.cs), else im2col + GEMM.
    /// </summary>
    protected override Tensor Conv2dCore(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual, Shape outShape)
    {
        var conv = new ConvGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], weight.Shape[0], weight.Shape[1], weight.Shape[2], options);
        using F32Input xs = Read(x);
        using F32Input ws = Read(weight);
        using F32Input bs = bias is null ? default : Read(bias);
        using F32Input rs = residual is null ? default : Read(residual);
        F32Output y = Write(outShape, x.DType);
        float* bp = bias is null ? null : bs.Pointer, rp = residual is null ? null : rs.Pointer;
        if (UsesWinograd(conv))
        {
            WinogradConv(conv, xs.Pointer, ws.Pointer, bp, rp, y.Pointer);
        }
        else if (UsesDirectConv(conv))
        {
            DirectConv(conv, xs.Pointer, ws.Pointer, bp, rp, y.Pointer);
        }
        else
        {
            Im2ColConv(conv, xs.Pointer, ws.Pointer, bp, rp, y.Pointer);
        }

        return y.Finish();
    }

    /// <summary>
    /// im2col + one GEMM per chunk of output rows: the columns matrix is (rows·Wo, KH·KW·Cin) against the weight
    /// (Cout, KH·KW·Cin), both row-major. A 1×1 stride-1 unpadded convolution skips im2col and is a plain GEMM.
    /// </summary>
    internal void Im2ColConv(ConvGeometry g, float* x, float* weight, float* bias, float* residual, float* y)
    {
        int patch = g.Patch, ho = g.OutHeight, wo = g.OutWidth, cout = g.OutChannels;
        bool pointwise = g.KernelHeight == 1 && g.KernelWidth == 1 && g.Options.Stride == 1 && g.Options.Padding == default;
        int rowsPerChunk = (int)Math.Clamp(Im2ColBudgetBytes / ((long)wo * patch * 4), 1, ho);
        using BufferPool.Rental? cols = pointwise ? null : Scratch((long)rowsPerChunk * wo * patch * 4);
        long outputs = (long)g.Batch * ho * wo;
        float beta = BroadcastBias(y, outputs, cout, bias);
        for (int n = 0; n < g.Batch; n++)
        {
            float* image = x + ((long)n * g.Height * g.Width * g.InChannels);
            float* output = y + ((long)n * ho * wo * cout);
            if (pointwise)
            {
                OpenBlas.Sgemm(Threads, false, true, ho * wo, cout, g.InChannels, 1f, image, g.InChannels, weight, g.InChannels, beta, output, cout);
                continue;
            }

            for (int r0 = 0; r0 < ho; r0 += rowsPerChunk)
            {
                int rows = Math.Min(rowsPerChunk, ho - r0);
                float* c = (float*)cols!.Pointer;
                ParallelRows(rows * wo, patch, pos => Im2ColRow(image, g, r0 + (int)(pos / wo), (int)(pos % wo), c + (pos * patch)));
                OpenBlas.Sgemm(Threads, false, true, rows * wo, cout, patch, 1f, c, patch, weight, patch, beta,
                    output + ((long)r0 * wo * cout), cout);
            }
        }

        if (residual is not null)
        {
            var all = new Span<float>(y, checked((int)(outputs * cout)));
            TensorPrimitives.Add(all, new ReadOnlySpan<float>(residual, all.Length), all);
        }
    }

    private static void Im2ColRow(float* image, ConvGeometry g, int oy, int ox, float* column)
    {
        int h = g.Height, w = g.Width, cin = g.InChannels, kh = g.KernelHeight, kw = g.KernelWidth;
        Conv2dOptions o = g.Options;
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

/// <summary>The sizes of one NHWC convolution (weight (Cout, KH, KW, Cin)), as every CPU convolution routine takes them.</summary>
internal readonly record struct ConvGeometry(int Batch, int Height, int Width, int InChannels, int OutChannels,
    int KernelHeight, int KernelWidth, Conv2dOptions Options)
{
    public int OutHeight => ((Height + Options.Padding.Top + Options.Padding.Bottom - KernelHeight) / Options.Stride) + 1;

    public int OutWidth => ((Width + Options.Padding.Left + Options.Padding.Right - KernelWidth) / Options.Stride) + 1;

    public int Patch => KernelHeight * KernelWidth * InChannels;
}

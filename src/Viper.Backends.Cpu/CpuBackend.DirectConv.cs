using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    private const int DirectPixels = 4;
    private const int DirectChannels = 16;

    private const int DirectMaxPatch = 9 * 64;
    private const int DirectMaxOutputs = 64;

    /// <summary>
    /// Narrow convolutions (at most 9·64 inputs and 64 outputs per pixel) run directly, without im2col: there the GEMM's
    /// N is too small for OpenBLAS to reach its speed and the column copy costs as much as the product (an A/B on two
    /// AVX2 cores: 64²×16→16 2.3×, 64²×32→32 1.9×, batch 4 of 8²×64→64 1.3×; but 32²×320→320 0.65×, so wide ones stay
    /// on im2col or Winograd).
    /// </summary>
    internal static bool UsesDirectConv(ConvGeometry g) => g.Patch <= DirectMaxPatch && g.OutChannels <= DirectMaxOutputs;

    /// <summary>
    /// Direct NHWC convolution: the input copied once into a zero-padded image, the weight repacked as
    /// (KH·KW·Cin, Cout rounded up to 16 with zero columns), then per output row a register block of 4 pixels × 16 channels accumulates
    /// Σ_tap Σ_ci x·w in eight 8-wide vectors (one tap and input channel after another, the im2col order), bias first and
    /// the residual added at the end.
    /// </summary>
    internal void DirectConv(ConvGeometry g, float* x, float* weight, float* bias, float* residual, float* y)
    {
        (int batch, int h, int w, int cin, int cout, int kh, int kw, Conv2dOptions o) = g;
        int ho = g.OutHeight, wo = g.OutWidth;
        int ph = h + o.Padding.Top + o.Padding.Bottom, pw = w + o.Padding.Left + o.Padding.Right;
        int patch = kh * kw * cin;
        int lanes = (cout + DirectChannels - 1) / DirectChannels * DirectChannels;
        using BufferPool.Rental padded = Scratch((long)batch * ph * pw * cin * 4);
        using BufferPool.Rental packed = Scratch((long)(patch + 1) * lanes * 4);
        float* xp = (float*)padded.Pointer, wp = (float*)packed.Pointer, bp = wp + ((long)patch * lanes);
        new Span<float>(wp, (patch + 1) * lanes).Clear();
        for (int co = 0; co < cout; co++)
        {
            for (int k = 0; k < patch; k++)
            {
                wp[((long)k * lanes) + co] = weight[((long)co * patch) + k];
            }

            bp[co] = bias is null ? 0f : bias[co];
        }

        ParallelRowBlocks((long)batch * ph, (long)pw * cin, (first, end) =>
        {
            for (long row = first; row < end; row++)
            {
                long n = row / ph;
                int iy = (int)(row % ph) - o.Padding.Top;
                var dst = new Span<float>(xp + (row * pw * cin), pw * cin);
                dst.Clear();
                if (iy >= 0 && iy < h)
                {
                    new ReadOnlySpan<float>(x + ((((n * h) + iy) * w) * cin), w * cin).CopyTo(dst[(o.Padding.Left * cin)..]);
                }
            }
        });

        ParallelRowBlocks((long)batch * ho, (long)wo * patch * cout / 8, (first, end) =>
        {
            float* tile = stackalloc float[DirectPixels * DirectChannels];
            for (long row = first; row < end; row++)
            {
                long n = row / ho;
                int oy = (int)(row % ho);
                float* outRow = y + (row * wo * cout);
                float* resRow = residual is null ? null : residual + (row * wo * cout);
                for (int ox = 0; ox < wo; ox += DirectPixels)
                {
                    int pixels = Math.Min(DirectPixels, wo - ox);
                    for (int co = 0; co < lanes; co += DirectChannels)
                    {
                        DirectBlock(xp + (n * ph * pw * cin), pw, cin, wp + co, lanes, kh, kw, o.Stride, oy, ox, pixels, bp + co, tile);
                        StoreTile(tile, pixels, Math.Min(DirectChannels, cout - co), outRow + ((long)ox * cout) + co,
                            resRow is null ? null : resRow + ((long)ox * cout) + co, cout);
                    }
                }
            }
        });
    }

    /// <summary>One register block: 4 pixels × 16 channels of weights <paramref name="wp"/> (its first lane), into <paramref name="tile"/> pixel by pixel.</summary>
    private static void DirectBlock(float* image, int pw, int cin, float* wp, int lanes, int kh, int kw, int stride,
        int oy, int ox, int pixels, float* bias, float* tile)
    {
        Vector256<float> b0 = Vector256.Load(bias), b1 = Vector256.Load(bias + 8);
        Vector256<float> a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;

        // A partial block (the row's last pixels) reads its missing pixels from pixel 0's input and discards them.
        int s1 = pixels > 1 ? stride * cin : 0, s2 = pixels > 2 ? 2 * stride * cin : 0, s3 = pixels > 3 ? 3 * stride * cin : 0;
        for (int ky = 0; ky < kh; ky++)
        {
            for (int kx = 0; kx < kw; kx++)
            {
                float* p = image + ((((long)((oy * stride) + ky) * pw) + (ox * stride) + kx) * cin);
                float* wt = wp + ((long)((ky * kw) + kx) * cin * lanes);
                for (int ci = 0; ci < cin; ci++, wt += lanes)
                {
                    Vector256<float> w0 = Vector256.Load(wt), w1 = Vector256.Load(wt + 8);
                    Vector256<float> x0 = Vector256.Create(p[ci]), x1 = Vector256.Create(p[s1 + ci]);
                    Vector256<float> x2 = Vector256.Create(p[s2 + ci]), x3 = Vector256.Create(p[s3 + ci]);
                    a00 = Vector256.FusedMultiplyAdd(x0, w0, a00);
                    a01 = Vector256.FusedMultiplyAdd(x0, w1, a01);
                    a10 = Vector256.FusedMultiplyAdd(x1, w0, a10);
                    a11 = Vector256.FusedMultiplyAdd(x1, w1, a11);
                    a20 = Vector256.FusedMultiplyAdd(x2, w0, a20);
                    a21 = Vector256.FusedMultiplyAdd(x2, w1, a21);
                    a30 = Vector256.FusedMultiplyAdd(x3, w0, a30);
                    a31 = Vector256.FusedMultiplyAdd(x3, w1, a31);
                }
            }
        }

        Vector256.Store(a00, tile);
        Vector256.Store(a01, tile + 8);
        Vector256.Store(a10, tile + 16);
        Vector256.Store(a11, tile + 24);
        Vector256.Store(a20, tile + 32);
        Vector256.Store(a21, tile + 40);
        Vector256.Store(a30, tile + 48);
        Vector256.Store(a31, tile + 56);
    }

    /// <summary>Writes a tile's pixels (their first <paramref name="count"/> channels) to the output, plus the residual.</summary>
    private static void StoreTile(float* tile, int pixels, int count, float* output, float* residual, int cout)
    {
        for (int p = 0; p < pixels; p++)
        {
            var values = new Span<float>(tile + (p * DirectChannels), count);
            var destination = new Span<float>(output + ((long)p * cout), count);
            if (residual is null)
            {
                values.CopyTo(destination);
            }
            else
            {
                TensorPrimitives.Add(values, new ReadOnlySpan<float>(residual + ((long)p * cout), count), destination);
            }
        }
    }
}

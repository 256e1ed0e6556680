using System.Numerics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// 3×3 stride-1 convolutions with padding 1 by Winograd's F(2×2, 3×3) (Lavin &amp; Gray 2016): each 2×2 block of outputs
/// comes from a 4×4 input tile as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, so the channel reduction becomes 16 GEMMs of
/// (tiles × Cin)·(Cin × Cout) — 2.25× fewer multiplications than the direct form, and no im2col buffer. The transforms
/// run across channels (NHWC keeps them contiguous); tiles are processed in chunks so the transformed input and the
/// products stay within a bounded scratch. Results differ from the direct sum only by rounding (F(2,3)'s transforms
/// use 0, ±1 and ½, all exact).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>Bound on the transformed input plus the products per chunk of tiles.</summary>
    private const long WinogradBudgetBytes = 16L << 20;

    /// <summary>
    /// Where Winograd wins (A/B against im2col on 2 AVX2 cores, benchmarks/RESULTS.md): with fewer channels the 16 GEMMs
    /// are too short (K = Cin) to pay for the transforms' memory traffic (256²×128: 0.8× of im2col), and on small images
    /// the 16 products are too small for the BLAS (32²×512: even). The VAE decoder's 64²–256² convolutions at 256–512
    /// channels ran 1.1–2× faster than im2col. The choice depends on shapes only, so results stay reproducible.
    /// </summary>
    private const int WinogradMinChannels = 256, WinogradMinPixels = 64 * 64;

    private static bool UsesWinograd(ConvGeometry g) =>
        g.KernelHeight == 3 && g.KernelWidth == 3 && g.Options == new Conv2dOptions(1, Padding2d.Same(1))
            && Math.Min(g.InChannels, g.OutChannels) >= WinogradMinChannels && (long)g.Height * g.Width >= WinogradMinPixels;

    /// <summary>y (batch, h, w, cout) = conv3x3(x) + bias [+ residual], all f32 NHWC, for a 3×3 stride-1 "same" <paramref name="g"/>.</summary>
    internal void WinogradConv(ConvGeometry g, float* x, float* weight, float* bias, float* residual, float* y)
    {
        (int batch, int h, int w, int cin, int cout, _, _, _) = g;
        int tilesHigh = (h + 1) / 2, tilesWide = (w + 1) / 2;
        long tiles = (long)batch * tilesHigh * tilesWide;
        int chunk = (int)Math.Clamp(WinogradBudgetBytes / (16L * (cin + cout) * 4), 1, tiles);
        using BufferPool.Rental u = Scratch(16L * cin * cout * 4);
        using BufferPool.Rental v = Scratch(16L * chunk * cin * 4);
        using BufferPool.Rental m = Scratch(16L * chunk * cout * 4);
        float* us = (float*)u.Pointer, vs = (float*)v.Pointer, ms = (float*)m.Pointer;
        ParallelRows(cout, 9L * cin, co => TransformFilter(weight + (co * 9 * cin), cin, cout, (int)co, us));
        for (long t0 = 0; t0 < tiles; t0 += chunk)
        {
            int count = (int)Math.Min(chunk, tiles - t0);
            ParallelRows(count, 16L * cin, t => TransformInput(x, h, w, cin, tilesHigh, tilesWide, t0 + t, vs + (t * cin), (long)count * cin));
            for (int xi = 0; xi < 16; xi++)
            {
                OpenBlas.Sgemm(Threads, false, true, count, cout, cin, 1f, vs + ((long)xi * count * cin), cin,
                    us + ((long)xi * cin * cout), cin, 0f, ms + ((long)xi * count * cout), cout);
            }

            ParallelRows(count, 16L * cout, t => TransformOutput(ms + (t * cout), (long)count * cout, cout, h, w, tilesHigh, tilesWide, t0 + t, bias, residual, y));
        }
    }

    /// <summary>
    /// U[ξ](co, ·) = (G g Gᵀ)[ξ] for one output channel's 3×3×Cin filter (laid out (3, 3, Cin)), across the input
    /// channels: reads and writes run along Cin, so the 16 planes (Cout, Cin) fill contiguously.
    /// </summary>
    private static void TransformFilter(float* g, int cin, int cout, int co, float* u)
    {
        long plane = (long)cout * cin;
        float* row = u + ((long)co * cin);
        int width = Vector<float>.Count;
        var half = new Vector<float>(0.5f);
        Span<Vector<float>> t = stackalloc Vector<float>[12];
        for (int c = 0; c < cin; c += width)
        {
            int lanes = Math.Min(width, cin - c);
            // G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2 over each column of the filter; then the same over rows.
            for (int k = 0; k < 3; k++)
            {
                Vector<float> g0 = Load(g + (k * cin) + c, lanes), g1 = Load(g + ((3 + k) * cin) + c, lanes), g2 = Load(g + ((6 + k) * cin) + c, lanes);
                t[k] = g0;
                t[3 + k] = half * (g0 + g1 + g2);
                t[6 + k] = half * (g0 - g1 + g2);
                t[9 + k] = g2;
            }

            for (int r = 0; r < 4; r++)
            {
                Vector<float> a = t[r * 3], b = t[(r * 3) + 1], e = t[(r * 3) + 2];
                Store(a, row + ((r * 4) * plane) + c, lanes);
                Store(half * (a + b + e), row + (((r * 4) + 1) * plane) + c, lanes);
                Store(half * (a - b + e), row + (((r * 4) + 2) * plane) + c, lanes);
                Store(e, row + (((r * 4) + 3) * plane) + c, lanes);
            }
        }
    }

    /// <summary>V[ξ](tile, ·) = (Bᵀ d B)[ξ] over all input channels of one tile (zero outside the image: the padding).</summary>
    private static void TransformInput(float* x, int h, int w, int cin, int tilesHigh, int tilesWide, long tile, float* v, long plane)
    {
        (long n, long rest) = Math.DivRem(tile, (long)tilesHigh * tilesWide);
        int y0 = (int)(rest / tilesWide * 2) - 1, x0 = (int)(rest % tilesWide * 2) - 1;
        float* image = x + (n * h * w * cin);
        float** rows = stackalloc float*[16];
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                int iy = y0 + i, ix = x0 + j;
                rows[(i * 4) + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? image + ((((long)iy * w) + ix) * cin) : null;
            }
        }

        int width = Vector<float>.Count;
        Span<Vector<float>> d = stackalloc Vector<float>[16];
        for (int c = 0; c < cin; c += width)
        {
            bool full = c + width <= cin;
            for (int k = 0; k < 16; k++)
            {
                d[k] = rows[k] is null ? Vector<float>.Zero : Load(rows[k] + c, full ? width : cin - c);
            }

            // Bᵀ d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3; then the same over columns.
            for (int j = 0; j < 4; j++)
            {
                Vector<float> a = d[j], b = d[4 + j], e = d[8 + j], f = d[12 + j];
                d[j] = a - e;
                d[4 + j] = b + e;
                d[8 + j] = e - b;
                d[12 + j] = b - f;
            }

            for (int i = 0; i < 4; i++)
            {
                Vector<float> a = d[i * 4], b = d[(i * 4) + 1], e = d[(i * 4) + 2], f = d[(i * 4) + 3];
                Store(a - e, v + (((i * 4) + 0) * plane) + c, full ? width : cin - c);
                Store(b + e, v + (((i * 4) + 1) * plane) + c, full ? width : cin - c);
                Store(e - b, v + (((i * 4) + 2) * plane) + c, full ? width : cin - c);
                Store(b - f, v + (((i * 4) + 3) * plane) + c, full ? width : cin - c);
            }
        }
    }

    /// <summary>One tile's 2×2 outputs = Aᵀ M A (+ bias, + residual), written where they fall inside the image.</summary>
    private static void TransformOutput(float* m, long plane, int cout, int h, int w, int tilesHigh, int tilesWide, long tile,
        float* bias, float* residual, float* y)
    {
        (long n, long rest) = Math.DivRem(tile, (long)tilesHigh * tilesWide);
        int y0 = (int)(rest / tilesWide * 2), x0 = (int)(rest % tilesWide * 2);
        int width = Vector<float>.Count;
        Span<Vector<float>> s = stackalloc Vector<float>[8];
        for (int c = 0; c < cout; c += width)
        {
            int lanes = Math.Min(width, cout - c);
            // Aᵀ M: rows m0 + m1 + m2 and m1 − m2 − m3, per column; then the same over the columns.
            for (int j = 0; j < 4; j++)
            {
                Vector<float> a = Load(m + (j * plane) + c, lanes), b = Load(m + ((4 + j) * plane) + c, lanes);
                Vector<float> e = Load(m + ((8 + j) * plane) + c, lanes), f = Load(m + ((12 + j) * plane) + c, lanes);
                s[j] = a + b + e;
                s[4 + j] = b - e - f;
            }

            Vector<float> b0 = bias is null ? Vector<float>.Zero : Load(bias + c, lanes);
            for (int i = 0; i < 2; i++)
            {
                Vector<float> a = s[i * 4], b = s[(i * 4) + 1], e = s[(i * 4) + 2], f = s[(i * 4) + 3];
                Vector<float> left = a + b + e, right = b - e - f;
                for (int j = 0; j < 2; j++)
                {
                    int oy = y0 + i, ox = x0 + j;
                    if (oy >= h || ox >= w)
                    {
                        continue;
                    }

                    long at = ((((n * h) + oy) * w) + ox) * cout + c;
                    Vector<float> value = (j == 0 ? left : right) + b0;
                    if (residual is not null)
                    {
                        value += Load(residual + at, lanes);
                    }

                    Store(value, y + at, lanes);
                }
            }
        }
    }

    private static Vector<float> Load(float* p, int lanes)
    {
        if (lanes == Vector<float>.Count)
        {
            return Vector.Load(p);
        }

        Span<float> tail = stackalloc float[Vector<float>.Count];
        new ReadOnlySpan<float>(p, lanes).CopyTo(tail);
        return new Vector<float>(tail);
    }

    private static void Store(Vector<float> value, float* p, int lanes)
    {
        if (lanes == Vector<float>.Count)
        {
            value.Store(p);
            return;
        }

        Span<float> tail = stackalloc float[Vector<float>.Count];
        value.CopyTo(tail);
        tail[..lanes].CopyTo(new Span<float>(p, lanes));
    }
}

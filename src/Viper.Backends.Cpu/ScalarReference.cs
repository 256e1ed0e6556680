namespace Viper.Backends.Cpu;

/// <summary>
/// Plain scalar loops for the ops whose CPU fast path is clever (BLAS GEMM, im2col convolution, blocked
/// attention), llm.c style: obviously correct, slow, used by tests to check the fast paths on shapes no
/// fixture covers, and the reference the CUDA kernels are compared with.
/// </summary>
public static class ScalarReference
{
    /// <summary>y (M, N) = x (M, K) · w (N, K)ᵀ + bias (N).</summary>
    public static float[] Linear(float[] x, float[] w, float[]? bias, int m, int n, int k)
    {
        float[] y = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double acc = bias?[j] ?? 0;
                for (int p = 0; p < k; p++)
                {
                    acc += (double)x[(i * k) + p] * w[(j * k) + p];
                }

                y[(i * n) + j] = (float)acc;
            }
        }

        return y;
    }

    /// <summary>NHWC convolution with weight (Cout, KH, KW, Cin) and explicit (top, bottom, left, right) padding.</summary>
    public static float[] Conv2d(float[] x, int batch, int h, int w, int cin, float[] weight, int cout, int kh, int kw,
        float[]? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, out int ho, out int wo)
    {
        ho = ((h + padTop + padBottom - kh) / stride) + 1;
        wo = ((w + padLeft + padRight - kw) / stride) + 1;
        float[] y = new float[batch * ho * wo * cout];
        for (int n = 0; n < batch; n++)
        for (int oy = 0; oy < ho; oy++)
        for (int ox = 0; ox < wo; ox++)
        for (int co = 0; co < cout; co++)
        {
            double acc = bias?[co] ?? 0;
            for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
            {
                int iy = (oy * stride) - padTop + ky, ix = (ox * stride) - padLeft + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                {
                    continue;
                }

                for (int ci = 0; ci < cin; ci++)
                {
                    acc += (double)x[((((n * h) + iy) * w) + ix) * cin + ci] * weight[((((co * kh) + ky) * kw) + kx) * cin + ci];
                }
            }

            y[((((n * ho) + oy) * wo) + ox) * cout + co] = (float)acc;
        }

        return y;
    }

    /// <summary>Attention over (B, T, H·D) with GQA, causal masking aligned to the key end, and key lengths.</summary>
    public static float[] Attention(float[] q, float[] k, float[] v, int batch, int tq, int tk, int hq, int hkv, int d,
        bool causal, int[]? keyLengths, float scale)
    {
        float[] y = new float[batch * tq * hq * d];
        double[] s = new double[tk];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < hq; h++)
        for (int i = 0; i < tq; i++)
        {
            int kvh = h / (hq / hkv);
            int visible = keyLengths?[b] ?? tk;
            if (causal)
            {
                visible = Math.Min(visible, i + (tk - tq) + 1);
            }

            double max = double.NegativeInfinity;
            for (int j = 0; j < visible; j++)
            {
                double dot = 0;
                for (int c = 0; c < d; c++)
                {
                    dot += (double)q[((((b * tq) + i) * hq) + h) * d + c] * k[((((b * tk) + j) * hkv) + kvh) * d + c];
                }

                s[j] = dot * scale;
                max = Math.Max(max, s[j]);
            }

            double sum = 0;
            for (int j = 0; j < visible; j++)
            {
                s[j] = Math.Exp(s[j] - max);
                sum += s[j];
            }

            for (int c = 0; c < d; c++)
            {
                double acc = 0;
                for (int j = 0; j < visible; j++)
                {
                    acc += s[j] * v[((((b * tk) + j) * hkv) + kvh) * d + c];
                }

                y[((((b * tq) + i) * hq) + h) * d + c] = (float)(acc / sum);
            }
        }

        return y;
    }
}

namespace Viper.Pipelines;

/// <summary>Host re-layouts between PyTorch's NCHW order (in which torch.randn fills latents) and the engine's NHWC.</summary>
public static class LatentLayout
{
    public static float[] NchwToNhwc(ReadOnlySpan<float> nchw, int n, int c, int h, int w)
    {
        var nhwc = new float[nchw.Length];
        for (int b = 0; b < n; b++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                for (int p = 0; p < h * w; p++)
                {
                    nhwc[(((b * h * w) + p) * c) + ch] = nchw[(((b * c) + ch) * h * w) + p];
                }
            }
        }

        return nhwc;
    }

    public static float[] NhwcToNchw(ReadOnlySpan<float> nhwc, int n, int h, int w, int c)
    {
        var nchw = new float[nhwc.Length];
        for (int b = 0; b < n; b++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                for (int p = 0; p < h * w; p++)
                {
                    nchw[(((b * c) + ch) * h * w) + p] = nhwc[(((b * h * w) + p) * c) + ch];
                }
            }
        }

        return nchw;
    }
}

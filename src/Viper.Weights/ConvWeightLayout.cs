namespace Viper.Weights;

/// <summary>The one place PyTorch's conv weight layout (Cout, Cin, KH, KW) is re-laid as the backends' (Cout, KH, KW, Cin).</summary>
public static class ConvWeightLayout
{
    public static byte[] OihwToOhwi(ReadOnlySpan<byte> oihw, int cout, int cin, int kh, int kw, int elementSize)
    {
        byte[] ohwi = new byte[oihw.Length];
        for (int o = 0; o < cout; o++)
        {
            for (int i = 0; i < cin; i++)
            {
                for (int p = 0; p < kh * kw; p++)
                {
                    oihw.Slice((((o * cin) + i) * kh * kw + p) * elementSize, elementSize)
                        .CopyTo(ohwi.AsSpan((((o * kh * kw) + p) * cin + i) * elementSize));
                }
            }
        }

        return ohwi;
    }

    /// <summary>The inverse of <see cref="OihwToOhwi"/>, for writing a model's conv weights back as PyTorch stores them.</summary>
    public static byte[] OhwiToOihw(ReadOnlySpan<byte> ohwi, int cout, int cin, int kh, int kw, int elementSize)
    {
        byte[] oihw = new byte[ohwi.Length];
        for (int o = 0; o < cout; o++)
        {
            for (int i = 0; i < cin; i++)
            {
                for (int p = 0; p < kh * kw; p++)
                {
                    ohwi.Slice((((o * kh * kw) + p) * cin + i) * elementSize, elementSize)
                        .CopyTo(oihw.AsSpan((((o * cin) + i) * kh * kw + p) * elementSize));
                }
            }
        }

        return oihw;
    }
}

namespace Viper.Imaging;

/// <summary>
/// Pillow's Image.resize(size, BICUBIC / BILINEAR) for 8-bit images, bit for bit (Pillow's libImaging/Resample.c): a
/// separable filter whose support widens with the downscale factor (antialiasing) — bicubic with a = −0.5 (support 2),
/// or the triangle (support 1) — coefficients normalised per output pixel and rounded to 22-bit fixed point, the
/// horizontal pass first into an 8-bit image (rows limited to those the vertical pass reads), then the vertical pass,
/// each result rounded and clamped.
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>CLIPImageProcessor's resample (PIL.Image.BICUBIC, 3).</summary>
    public static RgbImage Bicubic(RgbImage image, int width, int height) => Resize(image, width, height, BicubicFilter, 2.0);

    /// <summary>Idefics2ImageProcessor's resample (PIL.Image.BILINEAR, 2).</summary>
    public static RgbImage Bilinear(RgbImage image, int width, int height) => Resize(image, width, height, BilinearFilter, 1.0);

    private static RgbImage Resize(RgbImage image, int width, int height, Func<double, double> filter, double filterSupport)
    {
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), $"cannot resize to {width}×{height}");
        }

        (int[] boundsX, int[] kx, int kSizeX) = Coefficients(image.Width, width, filter, filterSupport);
        (int[] boundsY, int[] ky, int kSizeY) = Coefficients(image.Height, height, filter, filterSupport);
        bool horizontal = width != image.Width, vertical = height != image.Height;
        byte[] source = image.Pixels;
        int sourceRows = image.Height, firstRow = 0;
        if (horizontal)
        {
            firstRow = vertical ? boundsY[0] : 0;
            int lastRow = vertical ? boundsY[(height - 1) * 2] + boundsY[((height - 1) * 2) + 1] : image.Height;
            sourceRows = lastRow - firstRow;
            source = Horizontal(image.Pixels, image.Width, firstRow, sourceRows, width, boundsX, kx, kSizeX);
        }

        if (!vertical)
        {
            return new RgbImage(width, height, source);
        }

        int rowWidth = horizontal ? width : image.Width;
        return new RgbImage(rowWidth, height, Vertical(source, rowWidth, firstRow, height, boundsY, ky, kSizeY));
    }

    private static byte[] Horizontal(byte[] src, int srcWidth, int firstRow, int rows, int outWidth, int[] bounds, int[] k, int kSize)
    {
        byte[] dst = new byte[rows * outWidth * 3];
        for (int y = 0; y < rows; y++)
        {
            int srcRow = (firstRow + y) * srcWidth * 3;
            for (int x = 0; x < outWidth; x++)
            {
                int min = bounds[x * 2], count = bounds[(x * 2) + 1];
                for (int c = 0; c < 3; c++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int i = 0; i < count; i++)
                    {
                        sum += src[srcRow + ((min + i) * 3) + c] * k[(x * kSize) + i];
                    }

                    dst[(((y * outWidth) + x) * 3) + c] = Clip8(sum);
                }
            }
        }

        return dst;
    }

    private static byte[] Vertical(byte[] src, int width, int firstRow, int outHeight, int[] bounds, int[] k, int kSize)
    {
        byte[] dst = new byte[outHeight * width * 3];
        for (int y = 0; y < outHeight; y++)
        {
            int min = bounds[y * 2] - firstRow, count = bounds[(y * 2) + 1];
            for (int x = 0; x < width * 3; x++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int i = 0; i < count; i++)
                {
                    sum += src[((min + i) * width * 3) + x] * k[(y * kSize) + i];
                }

                dst[(y * width * 3) + x] = Clip8(sum);
            }
        }

        return dst;
    }

    /// <summary>Resample.c precompute_coeffs + normalize_coeffs_8bpc for the box (0, inSize).</summary>
    private static (int[] Bounds, int[] Kernel, int KSize) Coefficients(int inSize, int outSize, Func<double, double> filter, double filterSupport)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = filterSupport * filterScale;
        int kSize = ((int)Math.Ceiling(support) * 2) + 1;
        int[] bounds = new int[outSize * 2];
        int[] kernel = new int[outSize * kSize];
        double[] k = new double[kSize];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max(0, (int)(center - support + 0.5));
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            double ww = 0;
            for (int x = 0; x < xmax; x++)
            {
                k[x] = filter((x + xmin - center + 0.5) * ss);
                ww += k[x];
            }

            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0 ? k[x] / ww : k[x];
                kernel[(xx * kSize) + x] = (int)(w < 0 ? -0.5 + (w * (1 << PrecisionBits)) : 0.5 + (w * (1 << PrecisionBits)));
            }

            bounds[xx * 2] = xmin;
            bounds[(xx * 2) + 1] = xmax;
        }

        return (bounds, kernel, kSize);
    }

    private static double BilinearFilter(double x) => Math.Abs(x) < 1.0 ? 1.0 - Math.Abs(x) : 0.0;

    private static double BicubicFilter(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        return x < 2.0 ? ((((x - 5) * x) + 8) * x - 4) * a : 0.0;
    }

    private static byte Clip8(int value) => value >= 1 << PrecisionBits << 8 ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);
}

using StbImageSharp;

namespace Viper.Imaging;

/// <summary>Decodes PNG, JPEG, BMP, GIF (first frame), TGA and PSD through StbImageSharp into RGB.</summary>
public static class ImageFile
{
    /// <summary>
    /// The most pixels an image may declare (134 megapixels, more than any camera's): a crafted header cannot make the
    /// decoder allocate gigabytes (StbImageSharp itself only refuses sizes whose byte count overflows an int).
    /// </summary>
    public const long MaxPixels = 1L << 27;

    public static RgbImage Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ImageFormatException($"{path}: cannot read the file: {e.Message}", e);
        }

        return Decode(bytes, path);
    }

    /// <summary>
    /// Decodes an encoded image. Transparency is composited over white (a transparent pixel reads as white, not as
    /// whatever colour its invisible RGB holds); grey images are expanded to RGB.
    /// </summary>
    public static RgbImage Decode(byte[] encoded, string source = "<memory>")
    {
        ImageResult image;
        try
        {
            using (var header = new MemoryStream(encoded, writable: false))
            {
                if (ImageInfo.FromStream(header) is { } info && (long)info.Width * info.Height > MaxPixels)
                {
                    throw new ImageFormatException($"{source}: {info.Width}×{info.Height} is over the {MaxPixels / 1_000_000} megapixels this decoder accepts");
                }
            }

            image = ImageResult.FromMemory(encoded, ColorComponents.RedGreenBlueAlpha);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotSupportedException)
        {
            throw new ImageFormatException($"{source}: not a decodable image ({e.Message})", e);
        }

        if (image?.Data is null || image.Width <= 0 || image.Height <= 0)
        {
            throw new ImageFormatException($"{source}: not a decodable image");
        }

        return OverWhite(image.Width, image.Height, image.Data);
    }

    /// <summary>Unpremultiplied RGBA pixels composited over opaque white into RGB (what every decoder here hands on).</summary>
    public static RgbImage OverWhite(int width, int height, ReadOnlySpan<byte> rgba)
    {
        if (rgba.Length != (long)width * height * 4)
        {
            throw new ArgumentException($"{rgba.Length} bytes are not {width}×{height} RGBA pixels", nameof(rgba));
        }

        byte[] rgb = new byte[width * height * 3];
        OverWhite(rgba, rgb);
        return new RgbImage(width, height, rgb);
    }

    /// <summary>The same into a caller's buffer of 3 bytes per pixel (native memory, for an image decoded only to be re-encoded).</summary>
    public static void OverWhite(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        long pixels = rgba.Length / 4;
        if (rgb.Length != pixels * 3 || rgba.Length % 4 != 0)
        {
            throw new ArgumentException($"{rgb.Length} RGB bytes do not hold {rgba.Length} RGBA bytes' pixels", nameof(rgb));
        }

        for (int p = 0; p < pixels; p++)
        {
            int alpha = rgba[(p * 4) + 3];
            for (int c = 0; c < 3; c++)
            {
                rgb[(p * 3) + c] = OverWhite(rgba[(p * 4) + c], alpha);
            }
        }
    }

    /// <summary>
    /// Pillow's Image.alpha_composite of a pixel over opaque white (libImaging/AlphaComposite.c, 7 extra bits,
    /// divisions by 255 rounded by shifts), so a composited image equals Pillow's bit for bit.
    /// </summary>
    private static byte OverWhite(int value, int alpha)
    {
        const int precision = 7;
        int coef1 = alpha * (1 << precision);            // src_a·255·255·2^7 / (255·255): the destination is opaque
        int coef2 = (255 * (1 << precision)) - coef1;
        int tmp = (value * coef1) + (255 * coef2) + (0x80 << precision);
        return (byte)((((tmp >> 8) + tmp) >> 8) >> precision);
    }
}

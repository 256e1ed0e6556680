namespace Viper.Imaging;

/// <summary>8-bit RGB pixels, row-major, 3 bytes per pixel.</summary>
public sealed record RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        if (width <= 0 || height <= 0 || pixels.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"an RGB image of {width}×{height} needs {(long)width * height * 3} bytes, got {pixels.Length}");
        }

        (Width, Height, Pixels) = (width, height, pixels);
    }

    public int Width { get; }

    public int Height { get; }

    public byte[] Pixels { get; }
}

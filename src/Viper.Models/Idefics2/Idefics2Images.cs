namespace Viper.Models.Idefics2;

/// <summary>
/// A padded batch of images as Idefics2ImageProcessor returns it for one prompt: pixel values (images, 3, H, W) f32
/// (NCHW, normalised) and the pixel mask (images, H, W), nonzero where the image has real pixels.
/// </summary>
public sealed record Idefics2Images(float[] PixelValues, byte[] PixelMask, int Count, int Height, int Width)
{
    public int Channels => Count == 0 ? 3 : PixelValues.Length / (Count * Height * Width);

    /// <summary>
    /// The images transformers keeps: an image whose values are all exactly 0 is batch padding and is dropped
    /// (Idefics2Model.get_image_features), with its mask.
    /// </summary>
    public Idefics2Images WithoutPaddingImages()
    {
        int size = Channels * Height * Width, plane = Height * Width;
        int[] real = [.. Enumerable.Range(0, Count).Where(i => PixelValues.AsSpan(i * size, size).ContainsAnyExcept(0f))];
        if (real.Length == Count)
        {
            return this;
        }

        return new Idefics2Images(
            [.. real.SelectMany(i => PixelValues.Skip(i * size).Take(size))], [.. real.SelectMany(i => PixelMask.Skip(i * plane).Take(plane))],
            real.Length, Height, Width);
    }

    /// <summary>The pixel values channel-last (images, H, W, 3), the layout the engine's convolutions take.</summary>
    public float[] ToNhwc()
    {
        int c = Channels, plane = Height * Width;
        float[] nhwc = new float[PixelValues.Length];
        for (int image = 0; image < Count; image++)
        {
            for (int channel = 0; channel < c; channel++)
            {
                for (int p = 0; p < plane; p++)
                {
                    nhwc[(((image * plane) + p) * c) + channel] = PixelValues[(((image * c) + channel) * plane) + p];
                }
            }
        }

        return nhwc;
    }
}

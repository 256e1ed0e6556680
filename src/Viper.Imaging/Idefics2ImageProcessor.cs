using System.Text.Json;

namespace Viper.Imaging;

/// <summary>
/// transformers 4.42's Idefics2ImageProcessor for one prompt's images: optional splitting into four quadrant crops plus
/// the whole image, a Pillow bilinear resize that brings the longest edge down to <see cref="LongestEdge"/> (aspect kept,
/// truncating) and lifts each edge to at least <see cref="ShortestEdge"/>, rescale (f64 product rounded to f32),
/// normalise in f32, and zero padding to the batch's largest image with a pixel mask. ViPer runs it with longest 448,
/// shortest 378 and no splitting (the adapters were trained so); settings come from preprocessor_config.json.
/// </summary>
public sealed record Idefics2ImageProcessor
{
    public int LongestEdge { get; init; } = 980;

    public int ShortestEdge { get; init; } = 378;

    public bool DoImageSplitting { get; init; }

    public double RescaleFactor { get; init; } = 1 / 255.0;

    public float[] Mean { get; init; } = [0.5f, 0.5f, 0.5f];

    public float[] Std { get; init; } = [0.5f, 0.5f, 0.5f];

    /// <summary>Images per input image: 5 with splitting (four crops, then the whole image), else 1.</summary>
    public int ImagesPerInput => DoImageSplitting ? 5 : 1;

    /// <summary>Reads a preprocessor_config.json (size.longest_edge / shortest_edge, do_image_splitting, rescale_factor, image_mean, image_std).</summary>
    public static Idefics2ImageProcessor Load(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = doc.RootElement;
            var p = new Idefics2ImageProcessor();
            if (root.TryGetProperty("size", out JsonElement size))
            {
                p = p with { LongestEdge = size.GetProperty("longest_edge").GetInt32(), ShortestEdge = size.GetProperty("shortest_edge").GetInt32() };
            }

            if (root.TryGetProperty("do_image_splitting", out JsonElement split))
            {
                p = p with { DoImageSplitting = split.GetBoolean() };
            }

            if (root.TryGetProperty("rescale_factor", out JsonElement rescale))
            {
                p = p with { RescaleFactor = rescale.GetDouble() };
            }

            if (root.TryGetProperty("image_mean", out JsonElement mean))
            {
                p = p with { Mean = [.. mean.EnumerateArray().Select(e => e.GetSingle())] };
            }

            if (root.TryGetProperty("image_std", out JsonElement std))
            {
                p = p with { Std = [.. std.EnumerateArray().Select(e => e.GetSingle())] };
            }

            return p.Validated(path);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{path}: not an Idefics2 preprocessor config: {e.Message}", e);
        }
    }

    /// <summary>
    /// The processed images of one prompt, padded to a common size — the largest image's, or <paramref name="canvas"/> when
    /// that is larger (the size a batch with other images would pad them to, which transformers 4.42's patch rule sees).
    /// </summary>
    public ProcessedImages Process(IReadOnlyList<RgbImage> images, (int Height, int Width)? canvas = null)
    {
        Validated("Idefics2 image processor");
        if (images.Count == 0)
        {
            throw new ArgumentException("no images to process");
        }

        RgbImage[] resized = [.. images.SelectMany(Split).Select(image => Resize(image))];
        int height = Math.Max(resized.Max(r => r.Height), canvas?.Height ?? 0), width = Math.Max(resized.Max(r => r.Width), canvas?.Width ?? 0);
        int plane = height * width;
        float[] pixels = new float[resized.Length * 3 * plane]; // padding stays 0, as transformers pads after normalising
        byte[] mask = new byte[resized.Length * plane];
        for (int i = 0; i < resized.Length; i++)
        {
            RgbImage r = resized[i];
            for (int y = 0; y < r.Height; y++)
            {
                for (int x = 0; x < r.Width; x++)
                {
                    mask[(i * plane) + (y * width) + x] = 1;
                    for (int c = 0; c < 3; c++)
                    {
                        float scaled = (float)(r.Pixels[(((y * r.Width) + x) * 3) + c] * RescaleFactor);
                        pixels[(((i * 3) + c) * plane) + (y * width) + x] = (scaled - Mean[c]) / Std[c];
                    }
                }
            }
        }

        return new ProcessedImages(pixels, mask, resized.Length, height, width);
    }

    /// <summary>The padded size the images would share: the largest (height, width) after resizing (and splitting).</summary>
    public (int Height, int Width) Canvas(IEnumerable<RgbImage> images)
    {
        (int Height, int Width)[] sizes = [.. images.SelectMany(Split).Select(i => OutputSize(i.Height, i.Width))];
        return (sizes.Max(s => s.Height), sizes.Max(s => s.Width));
    }

    /// <summary>get_resize_output_image_size: (height, width) after the longest-edge cap and the shortest-edge floor.</summary>
    public (int Height, int Width) OutputSize(int height, int width)
    {
        double aspect = (double)width / height;
        if (width >= height && width > LongestEdge)
        {
            width = LongestEdge;
            height = (int)(width / aspect);
        }
        else if (height > width && height > LongestEdge)
        {
            height = LongestEdge;
            width = (int)(height * aspect);
        }

        return (Math.Max(height, ShortestEdge), Math.Max(width, ShortestEdge));
    }

    private RgbImage Resize(RgbImage image)
    {
        (int height, int width) = OutputSize(image.Height, image.Width);
        return PilResize.Bilinear(image, width, height);
    }

    // split_image: the four quadrants (top-left, top-right, bottom-left, bottom-right; the middle rounded down), then the image.
    private IEnumerable<RgbImage> Split(RgbImage image)
    {
        if (DoImageSplitting)
        {
            int midX = image.Width / 2, midY = image.Height / 2;
            yield return Crop(image, 0, 0, midX, midY);
            yield return Crop(image, midX, 0, image.Width, midY);
            yield return Crop(image, 0, midY, midX, image.Height);
            yield return Crop(image, midX, midY, image.Width, image.Height);
        }

        yield return image;
    }

    private static RgbImage Crop(RgbImage image, int left, int top, int right, int bottom)
    {
        int width = right - left, height = bottom - top;
        if (width <= 0 || height <= 0)
        {
            throw new ArgumentException($"a {image.Width}×{image.Height} image is too small to split into four crops");
        }

        byte[] pixels = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            Array.Copy(image.Pixels, (((top + y) * image.Width) + left) * 3, pixels, y * width * 3, width * 3);
        }

        return new RgbImage(width, height, pixels);
    }

    private Idefics2ImageProcessor Validated(string source)
    {
        if (ShortestEdge <= 0 || LongestEdge < ShortestEdge || !(RescaleFactor > 0) || Mean.Length != 3 || Std.Length != 3 || Std.Any(s => !(s > 0)))
        {
            throw new InvalidDataException($"{source}: needs 0 < shortest_edge ≤ longest_edge, a positive rescale factor, three means and three positive stds");
        }

        return this;
    }
}

/// <summary>
/// Pixel values (images, 3, H, W) f32, normalised, channel-first as transformers returns them, zero beyond each image;
/// the mask (images, H, W) is 1 on real pixels.
/// </summary>
public sealed record ProcessedImages(float[] PixelValues, byte[] PixelMask, int Count, int Height, int Width);

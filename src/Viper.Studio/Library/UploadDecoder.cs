using System.Runtime.InteropServices;
using SkiaSharp;
using Viper.Imaging;

namespace Viper.Studio.Library;

/// <summary>
/// Decodes an uploaded file with Skia's codecs (fuzzed continuously upstream, unlike StbImageSharp): the header is read
/// first and anything but a PNG, JPEG, WebP, GIF or BMP, or an image over the pixel limit, is refused before any pixel is
/// decoded. The pixels are converted to unpremultiplied RGBA and composited over white, as <see cref="ImageFile"/> does.
/// </summary>
public static unsafe class UploadDecoder
{
    private static readonly SKEncodedImageFormat[] Accepted =
        [SKEncodedImageFormat.Png, SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Webp, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Bmp];

    public static RgbImage Decode(byte[] encoded, string name, long maxPixels) =>
        WithPixels(encoded, name, maxPixels, (width, height, rgba) => ImageFile.OverWhite(width, height, rgba));

    /// <summary>
    /// The upload as our own PNG (RGB over white), decoded and composited in native memory that is freed before this
    /// returns: what an upload keeps of each file, so a request of several large images holds one decoded image at a time.
    /// </summary>
    public static (byte[] Png, int Width, int Height) Reencode(byte[] encoded, string name, long maxPixels) =>
        WithPixels(encoded, name, maxPixels, (width, height, rgba) =>
        {
            long rgbBytes = (long)width * height * 3;
            byte* rgb = (byte*)NativeMemory.Alloc((nuint)rgbBytes);
            try
            {
                var pixels = new Span<byte>(rgb, checked((int)rgbBytes));
                ImageFile.OverWhite(rgba, pixels);
                using var png = new MemoryStream();
                PngWriter.Write(png, width, height, pixels);
                return (png.ToArray(), width, height);
            }
            finally
            {
                NativeMemory.Free(rgb);
            }
        });

    private delegate T PixelReader<T>(int width, int height, ReadOnlySpan<byte> rgba);

    private static T WithPixels<T>(byte[] encoded, string name, long maxPixels, PixelReader<T> read)
    {
        using var stream = new SKMemoryStream(encoded);
        using SKCodec? codec = SKCodec.Create(stream, out SKCodecResult result);
        if (codec is null || result != SKCodecResult.Success)
        {
            throw new ImageFormatException($"{name} is not a PNG, JPEG, WebP, GIF or BMP image");
        }

        if (!Accepted.Contains(codec.EncodedFormat))
        {
            throw new ImageFormatException($"{name} is a {codec.EncodedFormat} image; upload a PNG, JPEG, WebP, GIF or BMP");
        }

        (int width, int height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0 || (long)width * height > maxPixels)
        {
            throw new ImageFormatException($"{name} is {width}×{height}: images up to {maxPixels / 1_000_000} megapixels are accepted");
        }

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        long bytes = info.BytesSize64;
        byte* pixels = (byte*)NativeMemory.Alloc((nuint)bytes); // native: freed here, not whenever the GC gets to a 160 MB array
        try
        {
            // A truncated file decodes partially (the rest stays zero): refused, so a broken upload never looks like a picture.
            SKCodecResult decoded = codec.GetPixels(info, (nint)pixels);
            if (decoded != SKCodecResult.Success)
            {
                throw new ImageFormatException($"{name}: the image data is damaged ({decoded})");
            }

            return read(width, height, new ReadOnlySpan<byte>(pixels, checked((int)bytes)));
        }
        finally
        {
            NativeMemory.Free(pixels);
        }
    }
}

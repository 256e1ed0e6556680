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

    public static RgbImage Decode(byte[] encoded, string name, long maxPixels)
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
        byte[] rgba = new byte[info.BytesSize64];
        SKCodecResult decoded;
        fixed (byte* pixels = rgba)
        {
            decoded = codec.GetPixels(info, (nint)pixels);
        }

        // A truncated file decodes partially (the rest stays zero): refused, so a broken upload never looks like a picture.
        if (decoded != SKCodecResult.Success)
        {
            throw new ImageFormatException($"{name}: the image data is damaged ({decoded})");
        }

        return ImageFile.OverWhite(width, height, rgba);
    }
}

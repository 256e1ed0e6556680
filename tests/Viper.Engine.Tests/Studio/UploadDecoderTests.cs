using System.Buffers.Binary;
using SkiaSharp;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Studio.Library;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// Uploads go through Skia's codecs: the pixels equal our StbImageSharp decoder's for PNGs, every accepted format
/// decodes, and mutated files — flipped bytes, cuts, insertions, a header claiming a huge image — either decode or are
/// refused with an <see cref="ImageFormatException"/>; nothing else escapes.
/// </summary>
public class UploadDecoderTests
{
    private static readonly string Fixtures = Path.Combine(RepoPaths.Root, "tests", "fixtures", "images");

    [Theory]
    [InlineData("rgba_260x260.png")]
    [InlineData("portrait_201x307.png")]
    [InlineData("landscape_320x240.png")]
    public void PngPixelsEqualTheFileDecoders(string name)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Fixtures, name));
        RgbImage upload = UploadDecoder.Decode(bytes, name, 1_000_000);
        RgbImage file = ImageFile.Decode(bytes);
        Assert.Equal((file.Width, file.Height), (upload.Width, upload.Height));
        Assert.Equal(file.Pixels, upload.Pixels);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp)]
    [InlineData(SKEncodedImageFormat.Png)]
    public void EveryAcceptedFormatDecodesAndMutationsNeverEscapeAsAnythingElse(SKEncodedImageFormat format)
    {
        byte[] encoded = Encode(format);
        RgbImage clean = UploadDecoder.Decode(encoded, "clean", 1_000_000);
        Assert.Equal((64, 48), (clean.Width, clean.Height));

        var random = new Random(20 + (int)format);
        int decoded = 0, refused = 0;
        for (int round = 0; round < 400; round++)
        {
            byte[] mutated = Mutate(encoded, random);
            try
            {
                RgbImage image = UploadDecoder.Decode(mutated, "fuzzed", 1_000_000);
                Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
                decoded++;
            }
            catch (ImageFormatException)
            {
                refused++;
            }
        }

        Assert.True(refused > 0 && decoded + refused == 400, $"{decoded} decoded, {refused} refused");
    }

    [Fact]
    public void AHeaderClaimingAHugeImageIsRefusedBeforeDecoding()
    {
        byte[] png = File.ReadAllBytes(Path.Combine(Fixtures, "rgba_260x260.png"));
        // IHDR starts at byte 8: length (4), "IHDR" (4), width (4), height (4), … then the CRC over type + data.
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 60000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 60000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        var e = Assert.Throws<ImageFormatException>(() => UploadDecoder.Decode(png, "huge.png", 40_000_000));
        Assert.Contains("huge.png is 60000×60000: images up to 40 megapixels are accepted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OtherFormatsAreRefusedByName()
    {
        var e = Assert.Throws<ImageFormatException>(() => UploadDecoder.Decode("<svg xmlns='http://www.w3.org/2000/svg'/>"u8.ToArray(), "x.svg", 1_000_000));
        Assert.Contains("x.svg is not a PNG, JPEG, WebP, GIF or BMP image", e.Message, StringComparison.Ordinal);
    }

    // PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), bit by bit.
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }

    private static byte[] Encode(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(64, 48, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < 48; y++)
        {
            for (int x = 0; x < 64; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 4), (byte)(y * 5), (byte)((x + y) * 2), (byte)(255 - x)));
            }
        }

        using SKData data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    private static byte[] Mutate(byte[] source, Random random)
    {
        byte[] bytes = (byte[])source.Clone();
        switch (random.Next(3))
        {
            case 0:
                for (int i = random.Next(1, 9); i > 0; i--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                return bytes;
            case 1:
                return bytes[..random.Next(1, bytes.Length)];
            default:
                int at = random.Next(bytes.Length);
                byte[] inserted = new byte[random.Next(1, 64)];
                random.NextBytes(inserted);
                return [.. bytes[..at], .. inserted, .. bytes[at..]];
        }
    }
}

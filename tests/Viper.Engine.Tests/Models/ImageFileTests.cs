using System.Buffers.Binary;
using Viper.Imaging;

namespace Viper.Engine.Tests.Models;

/// <summary>Untrusted images: a header that declares a gigantic image is refused before the decoder allocates for it.</summary>
public class ImageFileTests
{
    [Fact]
    public void AHeaderDeclaringAHugeImageIsRefusedBeforeDecoding()
    {
        using var png = new MemoryStream();
        PngWriter.Write(png, new RgbImage(1, 1, [10, 20, 30]));
        byte[] bytes = png.ToArray();
        Assert.Equal([10, 20, 30], ImageFile.Decode(bytes).Pixels);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), 16000); // IHDR width
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), 12000); // IHDR height
        var e = Assert.Throws<ImageFormatException>(() => ImageFile.Decode(bytes, "bomb.png"));
        Assert.Contains("16000×12000 is over the 134 megapixels", e.Message, StringComparison.Ordinal);
    }
}

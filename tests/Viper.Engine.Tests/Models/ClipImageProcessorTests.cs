using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Fixtures: tools/refs/make_clip_image_refs.py (Pillow 9.4 + NumPy following transformers' CLIPImageProcessor):
/// the Pillow bicubic resize and the normalised pixels must match bit for bit.
/// </summary>
public class ClipImageProcessorTests
{
    public static TheoryData<string> Images() => new("landscape_320x240", "portrait_201x307", "upscale_150x120", "exact_224x224", "rgba_260x260");

    [Theory]
    [MemberData(nameof(Images))]
    public void ResizeAndPixelsMatchPillowAndTransformersExactly(string name)
    {
        using SafeTensorsFile refs = SafeTensorsFile.Open(Path.Combine(RepoPaths.Fixtures("clip"), "preprocess.safetensors"));
        RgbImage image = ImageFile.Load(Path.Combine(RepoPaths.Fixtures("images"), name + ".png"));
        TensorEntry resizedEntry = refs.Entry("resized_" + name);
        RgbImage resized = PilResize.Bicubic(image, resizedEntry.Shape[1], resizedEntry.Shape[0]);
        Assert.Equal(refs.Bytes("resized_" + name).ToArray(), resized.Pixels);

        float[] expected = HostTensors.DecodeFloats(refs.Bytes("pixels_" + name), DType.F32);
        Assert.Equal(expected, new ClipImageProcessor().Preprocess(image));
    }

    [Fact]
    public void BadImagesAreTypedErrorsNamingTheSource()
    {
        var e = Assert.Throws<ImageFormatException>(() => ImageFile.Decode("not an image at all"u8.ToArray(), "junk.png"));
        Assert.Contains("junk.png", e.Message);
        byte[] png = File.ReadAllBytes(Path.Combine(RepoPaths.Fixtures("images"), "upscale_150x120.png"));
        Assert.Throws<ImageFormatException>(() => ImageFile.Decode(png[..100], "truncated.png"));
        Assert.Throws<ImageFormatException>(() => ImageFile.Decode([], "empty.png"));
        Assert.Throws<ImageFormatException>(() => ImageFile.Load(Path.Combine(RepoPaths.Fixtures("images"), "missing.png")));
    }

    [Fact]
    public void TransparentPixelsReadAsWhite()
    {
        RgbImage image = ImageFile.Load(Path.Combine(RepoPaths.Fixtures("images"), "rgba_260x260.png"));
        Assert.Equal(new byte[] { 255, 255, 255 }, image.Pixels[..3]); // alpha 0 at (0, 0)
    }
}

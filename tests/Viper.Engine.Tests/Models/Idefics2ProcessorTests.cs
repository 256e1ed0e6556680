using Viper.Engine.Tests.Support;
using Viper.Imaging;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Idefics2ImageProcessor against transformers 4.42.4 (../shared/refs/idefics2): the raw test images (70×50, 30×90,
/// 64×64, 17×41, 55×33) resized with Pillow's bilinear filter under the tiny processor's 48 / 24 edges, rescaled,
/// normalised and padded — pixel values bit for bit, masks exactly — with and without image splitting.
/// </summary>
public class Idefics2ProcessorTests
{
    [Theory]
    [InlineData("chat", 2, false)]
    [InlineData("vpe", 3, false)]
    [InlineData("metric", 5, false)]
    [InlineData("split", 2, true)]
    public void PixelsAndMasksEqualTransformers(string prompt, int images, bool splitting)
    {
        using RefTensors inputs = Idefics2Refs.Inputs();
        Idefics2ImageProcessor processor = Idefics2ImageProcessor.Load(Path.Combine(Idefics2Refs.Folder, "preprocessor_config.json")) with
        {
            DoImageSplitting = splitting,
        };
        ProcessedImages processed = processor.Process([.. Enumerable.Range(0, images).Select(i => RawImage(inputs, i))]);
        int[] shape = inputs.Shape($"{prompt}_pixel_values");
        Assert.Equal([shape[1], shape[3], shape[4]], new[] { processed.Count, processed.Height, processed.Width });
        Assert.Equal(inputs.Floats($"{prompt}_pixel_values"), processed.PixelValues);
        Assert.Equal(inputs.Longs($"{prompt}_pixel_attention_mask").Select(v => (byte)v), processed.PixelMask);
    }

    [Fact]
    public void OutputSizesFollowTheLongestAndShortestEdges()
    {
        var viper = new Idefics2ImageProcessor { LongestEdge = 448, ShortestEdge = 378 };
        Assert.Equal((448, 378), viper.OutputSize(1024, 512)); // 448 × 224, lifted to the shortest edge
        Assert.Equal((378, 448), viper.OutputSize(600, 1000));
        Assert.Equal((400, 400), viper.OutputSize(400, 400));
        Assert.Throws<ArgumentException>(() => new Idefics2ImageProcessor { DoImageSplitting = true }.Process([new RgbImage(1, 1, new byte[3])]));
        Assert.Throws<InvalidDataException>(() => new Idefics2ImageProcessor { ShortestEdge = 500, LongestEdge = 400 }.Process([new RgbImage(2, 2, new byte[12])]));
    }

    internal static RgbImage RawImage(RefTensors inputs, int index)
    {
        string name = $"image{index}_uint8_hwc";
        int[] hwc = inputs.Shape(name);
        return new RgbImage(hwc[1], hwc[0], inputs.Bytes(name));
    }
}

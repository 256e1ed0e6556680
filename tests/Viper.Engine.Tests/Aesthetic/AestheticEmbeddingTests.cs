using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Models.Clip;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>../shared/refs/aesthetic: CLIPModel.get_image_features per image and their mean, from the raw images.</summary>
public class AestheticEmbeddingTests
{
    private static string Refs => RepoPaths.Shared("refs", "aesthetic");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ImageFeaturesAndTheirMeanMatchTransformers(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var inputs = new RefTensors(Path.Combine(Refs, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Refs, "outputs.safetensors"));
        RgbImage[] images = [.. Enumerable.Range(0, 3).Select(i =>
        {
            int[] shape = inputs.Shape($"image{i}_uint8_hwc");
            return new RgbImage(shape[1], shape[0], inputs.Bytes($"image{i}_uint8_hwc"));
        })];
        using ClipVisionModel clip = ClipVisionModel.Load(Refs, b, DType.F32);
        var done = new List<int>();
        (float[] mean, float[][] perImage) = AestheticEmbedding.Compute(clip, ClipImageProcessor.Load(Path.Combine(Refs, "preprocessor_config.json")), images, done.Add);
        Tolerance.CloseF32(outputs.Floats("image_features"), perImage.SelectMany(f => f).ToArray(), "image_features");
        Tolerance.CloseF32(outputs.Floats("aesthetic_embedding"), mean, "aesthetic_embedding");
        Assert.Equal([1, 2, 3], done);
    }

    [Fact]
    public void AnEmbeddingOfAnotherShapeOrKindIsRefusedByName()
    {
        using var work = new TempFolder();
        string wide = Path.Combine(work.Path, "two.safetensors"), ints = Path.Combine(work.Path, "ints.safetensors"), many = Path.Combine(work.Path, "many.safetensors");
        SafeTensorsWriter.Write(wide, [new TensorData("e", DType.F32, new Shape(2, 4), new byte[32])]);
        SafeTensorsWriter.Write(ints, [new TensorData("e", DType.I32, new Shape(4), new byte[16])]);
        SafeTensorsWriter.Write(many, [new TensorData("a", DType.F32, new Shape(4), new byte[16]), new TensorData("b", DType.F32, new Shape(4), new byte[16])]);
        Assert.Contains("(P) or (1, P)", Assert.Throws<InvalidDataException>(() => AestheticEmbedding.Read(wide)).Message);
        Assert.Contains("(P) or (1, P)", Assert.Throws<InvalidDataException>(() => AestheticEmbedding.Read(ints)).Message);
        Assert.Contains("none named 'aesthetic_embedding'", Assert.Throws<InvalidDataException>(() => AestheticEmbedding.Read(many)).Message);
        Assert.Throws<FileNotFoundException>(() => AestheticEmbedding.Read(Path.Combine(work.Path, "missing.pt")));
        Assert.Equal(16, AestheticEmbedding.Read(Path.Combine(Refs, "embedding_1d_f32.pt")).Length);
    }
}

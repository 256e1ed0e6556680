using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// ../shared/refs/singlefile (diffusers 0.29.2): the tiny SD1.x folder converted to one original-layout file by
/// diffusers' own script. The engine loads the file with the folder as config and reproduces diffusers' images
/// (DDIM, 4 steps, w 7.5, seed 7, negative "") within 1 level.
/// </summary>
public class SingleFileReferenceTests
{
    public static string Refs => RepoPaths.Shared("refs", "singlefile");

    public static string ConfigFolder => RepoPaths.Shared("refs", "sd15");

    public static GenerationRequest Reference => new()
    {
        Prompt = "a red fox in deep snow, woodcut print", NegativePrompt = "", Guidance = 7.5f, Steps = 4, Scheduler = "ddim", Seed = 7,
    };

    [Fact]
    public void FolderReproducesDiffusersImage()
    {
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(ConfigFolder, b);
        AssertImage("folder_image_uint8_hwc", pipeline.Generate(Reference));
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void SingleFileReproducesDiffusersImage(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using ViperPipeline pipeline = ViperPipeline.Load(Path.Combine(Refs, "model.safetensors"), b, new PipelineOptions { ConfigFolder = ConfigFolder });
        GenerationResult result = pipeline.Generate(Reference);
        AssertImage("single_file_image_uint8_hwc", result);
        AssertImage("folder_image_uint8_hwc", result);
        Assert.Empty(pipeline.IgnoredTensors);
    }

    /// <summary>Each pixel channel within 1 level of diffusers' (numpy_to_pil's rounding of nearly equal floats may differ by one).</summary>
    internal static void AssertImage(string name, GenerationResult result)
    {
        using var expected = new RefTensors(Path.Combine(Refs, "expected.safetensors"));
        byte[] want = expected.Bytes(name);
        byte[] got = result.Images[0].Pixels;
        Assert.Equal(want.Length, got.Length);
        int worst = want.Zip(got, (a, c) => Math.Abs(a - c)).Max();
        Assert.True(worst <= 1, $"{name}: a channel differs by {worst} levels");
    }
}

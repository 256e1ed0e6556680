using Viper.Cuda.Backend;
using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// A pipeline's components placed on different devices (PipelineOptions.Placement): the conditioning and the latents
/// move between them, and the result equals the one-device run — bit for bit where both devices run the same kernels.
/// </summary>
public sealed class PlacementTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static GenerationRequest Request => new()
    {
        Prompt = "a lighthouse at dawn", Preference = VisualPreference.FromLists("watercolor, pastel tones", "photorealism"), Steps = 4, Seed = 3,
    };

    [Fact]
    public void SdxlSpreadOverTwoEmulatedDevicesEqualsOneDevice()
    {
        GenerationResult alone;
        using (CudaBackend one = TwoDevices.Backend(0))
        using (ViperPipeline pipeline = ViperPipeline.Load(folders.Sdxl, one, new PipelineOptions { RefinerFolder = folders.Refiner }))
        {
            alone = pipeline.Generate(Request);
        }

        using CudaBackend first = TwoDevices.Backend(0), second = TwoDevices.Backend(1);
        var placement = new Dictionary<string, IBackend> { ["text"] = second, ["refiner"] = second, ["vae"] = second };
        using ViperPipeline placed = ViperPipeline.Load(folders.Sdxl, first, new PipelineOptions { RefinerFolder = folders.Refiner, Placement = placement });
        long[] heldAfterLoad = [first.Memory.InUseBytes, second.Memory.InUseBytes];
        Assert.True(heldAfterLoad.All(b => b > 0), "both devices hold weights");
        GenerationResult spread = placed.Generate(Request);
        Assert.Equal(alone.Latents, spread.Latents);
        Assert.Equal(alone.Pixels, spread.Pixels);
        Assert.Equal(heldAfterLoad, new[] { first.Memory.InUseBytes, second.Memory.InUseBytes }); // every moved copy was released
    }

    [Fact]
    public void TheVaeOnTheCpuDecodesTheSameLatents()
    {
        using CudaBackend gpu = TwoDevices.Backend(0);
        using IBackend cpu = TestBackends.Create("cpu");
        GenerationResult alone;
        using (ViperPipeline pipeline = ViperPipeline.Load(folders.Sd, gpu))
        {
            alone = pipeline.Generate(Request);
        }

        using ViperPipeline placed = ViperPipeline.Load(folders.Sd, gpu, new PipelineOptions { Placement = new Dictionary<string, IBackend> { ["vae"] = cpu } });
        GenerationResult decodedOnCpu = placed.Generate(Request);
        Assert.Equal(alone.Latents, decodedOnCpu.Latents); // the UNet still ran on the GPU
        Tolerance.Close(alone.Pixels, decodedOnCpu.Pixels, 1e-4f, 1e-3f, "pixels decoded on the cpu vs the emulated device");
    }

    [Fact]
    public void AnUnknownComponentIsRefusedBeforeLoading()
    {
        using IBackend cpu = TestBackends.Create("cpu");
        var e = Assert.Throws<ArgumentException>(() => ViperPipeline.Load(folders.Sd, cpu, new PipelineOptions
        {
            Placement = new Dictionary<string, IBackend> { ["decoder"] = cpu },
        }));
        Assert.StartsWith("placement names 'decoder', not a pipeline component (text, unet, refiner, vae)", e.Message);
    }
}

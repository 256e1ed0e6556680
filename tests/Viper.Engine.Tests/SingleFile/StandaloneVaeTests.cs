using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// --vae: a standalone VAE as A1111 keeps it (original names, no prefix), as the single file holds it (first_stage_model.),
/// in diffusers names (a file), or a diffusers vae folder — each gives the reference image, since each is the same VAE.
/// --prediction overrides the scheduler config and is recorded.
/// </summary>
public class StandaloneVaeTests
{
    [Fact]
    public void EveryVaeLayoutGivesTheSameImage()
    {
        using var temp = new TempFolder();
        string ldm = Path.Combine(temp.Path, "model.vae.safetensors"), prefixed = Path.Combine(temp.Path, "prefixed.vae.safetensors");
        using (WeightStore store = WeightStore.Open(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors")))
        {
            var vae = store.Entries.Where(e => e.Name.StartsWith("first_stage_model.", StringComparison.Ordinal))
                .Select(e => new TensorData(e.Name, e.DType, e.Shape, store.Bytes(e.Name).ToArray())).ToList();
            SafeTensorsWriter.Write(ldm, [.. vae.Select(t => t with { Name = t.Name["first_stage_model.".Length..] }),
                new TensorData("model_ema.decay", DType.F32, new Shape(1), new byte[4])]);
            SafeTensorsWriter.Write(prefixed, vae);
        }

        string vaeFolder = Path.Combine(SingleFileReferenceTests.ConfigFolder, "vae");
        using IBackend b = TestBackends.Create("cpu");
        foreach (string vae in new[] { ldm, prefixed, Path.Combine(vaeFolder, "diffusion_pytorch_model.safetensors"), vaeFolder })
        {
            using ViperPipeline pipeline = ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b,
                new PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder, Vae = vae });
            SingleFileReferenceTests.AssertImage("single_file_image_uint8_hwc", pipeline.Generate(SingleFileReferenceTests.Reference));
        }

        string notVae = Path.Combine(SingleFileReferenceTests.Refs, "lora_kohya.safetensors");
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(SingleFileReferenceTests.ConfigFolder, b, new PipelineOptions { Vae = notVae }).Dispose());
        Assert.Contains("not a VAE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictionOverridesTheSchedulerConfigAndIsRecorded()
    {
        using IBackend b = TestBackends.Create("cpu");
        var options = new PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder, Prediction = "v_prediction" };
        using ViperPipeline pipeline = ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b, options);
        GenerationResult v = pipeline.Generate(SingleFileReferenceTests.Reference);
        using var expected = new RefTensors(Path.Combine(SingleFileReferenceTests.Refs, "expected.safetensors"));
        Assert.NotEqual(expected.Bytes("single_file_image_uint8_hwc"), v.Images[0].Pixels);
        string record = GenerationRecord.Text(SingleFileReferenceTests.Reference, v, new GenerationSetup("cpu", options, "model.safetensors"));
        Assert.Contains("prediction: v_prediction", record, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ViperPipeline.Load(SingleFileReferenceTests.ConfigFolder, b, new PipelineOptions { Prediction = "x0" }));
    }
}

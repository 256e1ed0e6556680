using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// SDXL textual inversion: a clip_l/clip_g pair feeds each encoder its own vectors (the refiner takes clip_g); the
/// token changes the image; an SD1-style single tensor is refused on SDXL, naming what is missing.
/// </summary>
public class SdxlEmbeddingTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    [Fact]
    public void AClipLClipGPairConditionsBothEncodersAndTheRefiner()
    {
        using var temp = new TempFolder();
        string pair = Path.Combine(temp.Path, "lighthouse-style.safetensors");
        var random = new Random(9);
        byte[] Vectors() => HostTensors.EncodeFloats(Enumerable.Range(0, 2 * 32).Select(_ => (float)random.NextDouble()).ToArray(), DType.F32);
        SafeTensorsWriter.Write(pair, [new("clip_l", DType.F32, new Shape(2, 32), Vectors()), new("clip_g", DType.F32, new Shape(2, 32), Vectors())]);

        using IBackend b = TestBackends.Create("cpu");
        var request = new GenerationRequest { Prompt = "a lighthouse, lighthouse-style", Steps = 3, Seed = 3 };
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sdxl, b, new PipelineOptions { RefinerFolder = folders.Refiner, Embeddings = [new EmbeddingToken(pair)] });
        float[] styled = pipeline.Generate(request).Latents;
        Assert.NotEqual(pipeline.Generate(request with { Prompt = "a lighthouse," }).Latents, styled);
        Assert.Equal(styled, pipeline.Generate(request).Latents);

        string single = Path.Combine(temp.Path, "one-encoder.safetensors");
        SafeTensorsWriter.Write(single, [new("emb_params", DType.F32, new Shape(2, 32), Vectors())]);
        var e = Assert.Throws<WeightsException>(() => ViperPipeline.Load(folders.Sdxl, b, new PipelineOptions { Embeddings = [new EmbeddingToken(single)] }).Dispose());
        Assert.Contains("no clip_g vectors for this pipeline's text_encoder_2", e.Message, StringComparison.Ordinal);
    }
}

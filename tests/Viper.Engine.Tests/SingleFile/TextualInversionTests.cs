using System.Text.Json;
using Viper.Engine.Tests.Support;
using Viper.Models.Tokenizers;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// refs/singlefile's textual-inversion embedding (2 vectors) as A1111's .pt (string_to_param['*'] saved with
/// requires_grad) and as .safetensors (emb_params): the token is the file name, the prompt expands as diffusers'
/// maybe_convert_prompt does (the README's ids), and diffusers' image is reproduced within 1 level.
/// </summary>
public class TextualInversionTests
{
    private const string Prompt = "a red fox in deep snow, fox-style";

    [Fact]
    public void TokensExpandToTheReferenceIdsAndNoBaseIdChanges()
    {
        using JsonDocument readme = JsonDocument.Parse(File.ReadAllText(Path.Combine(SingleFileReferenceTests.Refs, "README.json")));
        int[] expected = readme.RootElement.GetProperty("textual_inversion_input_ids_after_expansion").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        ClipTokenizer plain = ClipTokenizer.Load(Path.Combine(SingleFileReferenceTests.ConfigFolder, "tokenizer"));
        ClipTokenizer added = plain.WithAddedTokens(["fox-style", "fox-style_1"]);
        Assert.Equal(expected, added.EncodePadded(added.ExpandMultiVectorTokens(Prompt)));
        Assert.Equal(plain.EncodePadded("a red fox in deep snow, woodcut"), added.EncodePadded("a red fox in deep snow, woodcut"));
        Assert.Equal("a red fox fox-style fox-style_1", added.Decode(added.Encode(added.ExpandMultiVectorTokens("a red fox fox-style"))));
        Assert.Throws<ArgumentException>(() => plain.WithAddedTokens(["fox"]));
    }

    [Theory]
    [InlineData("fox-style.pt", "cpu")]
    [InlineData("fox-style.safetensors", "cpu")]
    [InlineData("fox-style.pt", "cuda-emulated")]
    public void ReproducesDiffusersImage(string file, string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var options = new PipelineOptions
        {
            ConfigFolder = SingleFileReferenceTests.ConfigFolder, Embeddings = [new EmbeddingToken(Path.Combine(SingleFileReferenceTests.Refs, file))],
        };
        using ViperPipeline pipeline = ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b, options);
        SingleFileReferenceTests.AssertImage("textual_inversion_image_uint8_hwc", pipeline.Generate(SingleFileReferenceTests.Reference with { Prompt = Prompt }));
    }

    [Fact]
    public void ReadsParametersAndRefusesWhatIsNotAnEmbedding()
    {
        string fixtures = RepoPaths.Fixtures("torch");
        TextualInversion param = TextualInversion.Read(new EmbeddingToken(Path.Combine(fixtures, "param-style.pt")));
        using (SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(fixtures, "param-style_expected.safetensors")))
        {
            float[] want = HostTensors.DecodeFloats(expected.Bytes("emb_params"), DType.F32);
            Assert.Equal(want, param.ClipL!.SelectMany(v => v));
            Assert.Equal(2, param.ClipL!.Length);
        }

        Assert.Equal("mine", TextualInversion.Read(new EmbeddingToken(Path.Combine(SingleFileReferenceTests.Refs, "fox-style.pt"), "mine")).Token);
        var evil = Assert.Throws<TorchSaveFormatException>(() => TextualInversion.Read(new EmbeddingToken(Path.Combine(fixtures, "evil_embedding.pt"))));
        Assert.Contains("'posix.system'", evil.Message, StringComparison.Ordinal);
        var model = Assert.Throws<WeightsException>(() => TextualInversion.Read(new EmbeddingToken(Path.Combine(SingleFileReferenceTests.Refs, "lora_kohya.safetensors"))));
        Assert.Contains("none is emb_params", model.Message, StringComparison.Ordinal);

        using IBackend b = TestBackends.Create("cpu");
        var wrongWidth = Assert.Throws<WeightsException>(() => ViperPipeline.Load(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), b,
            new PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder, Embeddings = [new EmbeddingToken(Path.Combine(fixtures, "param-style.pt"))] }).Dispose());
        Assert.Contains("8 wide", wrongWidth.Message, StringComparison.Ordinal);
    }
}

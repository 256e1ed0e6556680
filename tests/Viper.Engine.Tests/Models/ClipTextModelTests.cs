using System.Runtime.InteropServices;
using Viper.Engine.Tests.Support;
using Viper.Models.Clip;
using Viper.Models.Tokenizers;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// The tiny SD1.5-layout text encoder in ../shared/refs/sd15/text_encoder (transformers 4.42.4 CLIPTextModel, quick_gelu,
/// legacy argmax pooling): every output it records, on each backend, f32, atol 1e-5 + rtol 1e-4·|ref|.
/// </summary>
public class ClipTextModelTests
{
    private static string Folder => RepoPaths.Shared("refs", "sd15", "text_encoder");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ReproducesTransformersOnTheTinySd15Encoder(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using ClipTextModel model = ClipTextModel.Load(Folder, b, DType.F32);
        int[][] ids = ReferenceIds();
        using ClipTextOutput output = model.Encode(ids, HiddenStates.Only(0, -2));
        using SafeTensorsFile expected = SafeTensorsFile.Open(Path.Combine(Folder, "outputs.safetensors"));
        Check(expected, "last_hidden_state", output.LastHiddenState);
        Check(expected, "pooler_output", output.Pooled);
        Check(expected, "hidden_states_m2", output.HiddenStateFromEnd(2));
        Check(expected, "hidden_states_0", output.HiddenStates[0]);
        Assert.Equal([0, 1], output.HiddenStates.Kept.Keys.Order()); // 3 states: embeddings, layer 1 (= −2), layer 2 (released)
        Assert.Throws<ArgumentOutOfRangeException>(() => output.HiddenStates[-1]);
        Assert.Null(output.TextEmbeds);
    }

    [Fact]
    public void TheReferenceIdsAreWhatTheTokenizerMakesOfTheReferencePrompts()
    {
        ClipTokenizer tokenizer = ClipTokenizer.Load(RepoPaths.Shared("refs", "sd15", "tokenizer"));
        int[][] ids = ReferenceIds();
        Assert.Equal(ids[0], tokenizer.EncodePadded("a photo of an astronaut riding a horse on mars"));
        Assert.Equal(ids[1], tokenizer.EncodePadded(""));
    }

    [Fact]
    public void RejectsIdsLongerThanThePositionTable()
    {
        using IBackend b = TestBackends.Create("cpu");
        using ClipTextModel model = ClipTextModel.Load(Folder, b, DType.F32);
        var e = Assert.Throws<ArgumentException>(() => model.Encode([new int[78]]));
        Assert.Contains("1…77", e.Message);
    }

    private static int[][] ReferenceIds()
    {
        using SafeTensorsFile inputs = SafeTensorsFile.Open(Path.Combine(Folder, "inputs.safetensors"));
        long[] flat = MemoryMarshal.Cast<byte, long>(inputs.Bytes("input_ids")).ToArray();
        return flat.Chunk(77).Select(r => r.Select(v => (int)v).ToArray()).ToArray();
    }

    private static void Check(SafeTensorsFile expected, string name, Tensor actual)
    {
        TensorEntry entry = expected.Entry(name);
        Assert.Equal(entry.Shape, actual.Shape);
        Tolerance.CloseF32(HostTensors.DecodeFloats(expected.Bytes(name), entry.DType), actual.ToFloats(), name);
    }
}

using Viper.Engine.Tests.Support;
using Viper.Models.Idefics2;
using Viper.Runtime;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// IDEFICS2's vision half and the merge against transformers 4.42.4 on the tiny model in ../shared/refs/idefics2: from
/// the processor's pixels and masks (images of different sizes padded to 48×48), the connector's output per image, then
/// the merged input embeddings and the text model's final hidden states for the chat, VPE and metric prompts.
/// f32, atol 1e-4 + rtol 1e-4·|ref| (the text decoder alone: <see cref="MistralTextTests"/>).
/// </summary>
public class Idefics2ModelTests
{
    [Theory]
    [MemberData(nameof(Idefics2Refs.BackendsAndPrompts), MemberType = typeof(Idefics2Refs))]
    public void ImageStatesMergedEmbeddingsAndHiddenStatesMatchTransformers(string backend, string prompt)
    {
        using var inputs = Idefics2Refs.Inputs();
        using var outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create(backend);
        using var model = Idefics2ForConditionalGeneration.Load(Idefics2Refs.Folder, b, DType.F32);

        Idefics2Images images = Images(inputs, prompt);
        using Tensor states = model.ImageStates(images);
        Assert.Equal(outputs.Shape($"{prompt}_image_hidden_states"), states.Shape.ToArray());
        Tolerance.Close(outputs.Floats($"{prompt}_image_hidden_states"), states.ToFloats(), 1e-4f, 1e-4f, "image hidden states");

        int[] ids = Idefics2Refs.InputIds(inputs, prompt);
        using Tensor merged = model.MergedEmbeddings(ids, states);
        Tolerance.Close(outputs.Floats($"{prompt}_text_hidden_states_0"), merged.ToFloats(), 1e-4f, 1e-4f, "merged embeddings");

        using var cache = model.NewCache(ids.Length);
        using Tensor hidden = model.Forward(merged, cache);
        Tolerance.Close(outputs.Floats($"{prompt}_text_last_hidden_state"), hidden.ToFloats(), 1e-4f, 1e-4f, "last hidden state");
    }

    [Fact]
    public void AnImageCountThatDoesNotMatchTheImageTokensIsRejected()
    {
        using var inputs = Idefics2Refs.Inputs();
        using IBackend b = TestBackends.Create("cpu");
        using var model = Idefics2ForConditionalGeneration.Load(Idefics2Refs.Folder, b, DType.F32);
        using Tensor states = model.ImageStates(Images(inputs, "chat")); // two images
        int[] vpeIds = Idefics2Refs.InputIds(inputs, "vpe"); // three images' tokens
        var e = Assert.Throws<ArgumentException>(() => model.MergedEmbeddings(vpeIds, states));
        Assert.Contains("9 <image> tokens but the images give 6 states", e.Message, StringComparison.Ordinal);
    }

    internal static Idefics2Images Images(RefTensors inputs, string prompt)
    {
        int[] shape = inputs.Shape($"{prompt}_pixel_values"); // (1, images, 3, H, W)
        byte[] mask = [.. inputs.Longs($"{prompt}_pixel_attention_mask").Select(v => (byte)(v != 0 ? 1 : 0))];
        return new Idefics2Images(inputs.Floats($"{prompt}_pixel_values"), mask, shape[1], shape[3], shape[4]);
    }
}

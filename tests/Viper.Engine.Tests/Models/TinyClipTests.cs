using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Fixtures: tools/refs/make_clip_model_refs.py (plain PyTorch from transformers' modeling_clip.py) on the checkpoints
/// `viper make-tiny NAME --seed 0` writes; each test rewrites that checkpoint and loads it from disk like a real one.
/// f32, atol 1e-5 + rtol 1e-4·|ref|, on every backend.
/// </summary>
public class TinyClipTests
{
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void TextEncoderWithGeluProjectionAndFirstEosPooling(string backend) => CheckText(backend, "tiny-clip-text-projection");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void TextEncoderWithQuickGeluAndLegacyPooling(string backend) => CheckText(backend, "tiny-clip-text");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void VisionTowerImageEmbeds(string backend)
    {
        using var dir = new TempFolder();
        using SafeTensorsFile refs = Fixture("tiny-clip-vision");
        WriteTiny("tiny-clip-vision", dir.Path);
        using IBackend b = TestBackends.Create(backend);
        using ClipVisionModel model = ClipVisionModel.Load(dir.Path, b, DType.F32);
        using Tensor pixels = b.FromFloats(Floats(refs, "pixels"), refs.Entry("pixels").Shape);
        using Tensor embeds = model.Embed(pixels);
        Tolerance.CloseF32(Floats(refs, "image_embeds"), embeds.ToFloats(), "image_embeds");
        using ClipVisionOutput output = model.Forward(pixels, HiddenStates.Only(0, -2));
        Tolerance.CloseF32(Floats(refs, "last_hidden_state"), output.LastHiddenState.ToFloats(), "last_hidden_state");
        Tolerance.CloseF32(Floats(refs, "pooled"), output.Pooled.ToFloats(), "pooled");
        Tolerance.CloseF32(Floats(refs, "hidden_states_0"), output.HiddenStates[0].ToFloats(), "hidden_states[0]");
        Tolerance.CloseF32(Floats(refs, "hidden_states_m2"), output.HiddenStates[-2].ToFloats(), "hidden_states[-2]");
        Tolerance.CloseF32(Floats(refs, "image_embeds"), output.ImageEmbeds.ToFloats(), "image_embeds (Forward)");
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(pixels, HiddenStates.Only(7)));
        Assert.Throws<ArgumentException>(() => model.Embed(b.Allocate(new Shape(1, 27, 28, 3), DType.F32)));
    }

    [Fact]
    public void ATinyCheckpointPassesItsOwnManifestAndAMissingTensorIsNamed()
    {
        using var dir = new TempFolder();
        using var cpu = new CpuBackend(1);
        ClipComponent component = ClipComponent.Find("tiny-clip-text-projection");
        TinyCheckpoint.Write(component, dir.Path, cpu);
        using (WeightStore store = WeightStore.Open(Path.Combine(dir.Path, "model.safetensors")))
        {
            Assert.True(component.Manifest(cpu).Check(store).IsValid);
        }

        File.WriteAllText(Path.Combine(dir.Path, "config.json"), File.ReadAllText(Path.Combine(dir.Path, "config.json")).Replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 4"));
        var e = Assert.Throws<WeightsException>(() => ClipTextModel.Load(dir.Path, cpu, DType.F32));
        Assert.Contains("text_model.encoder.layers.3.", e.Message);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), "{\"hidden_size\": 30, \"num_attention_heads\": 4}");
        Assert.Contains("not divisible", Assert.Throws<ModelConfigException>(() => ClipTextModel.Load(dir.Path, cpu, DType.F32)).Message);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), "{\"hidden_size\": ");
        Assert.Throws<ModelConfigException>(() => ClipTextModel.Load(dir.Path, cpu, DType.F32));
    }

    private static void CheckText(string backend, string name)
    {
        using var dir = new TempFolder();
        using SafeTensorsFile refs = Fixture(name);
        WriteTiny(name, dir.Path);
        using IBackend b = TestBackends.Create(backend);
        using ClipTextModel model = ClipTextModel.Load(dir.Path, b, DType.F32);
        int[][] ids = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(refs.Bytes("input_ids")).ToArray().Chunk(77).ToArray();
        using ClipTextOutput output = model.Encode(ids, HiddenStates.Only(-2));
        Tolerance.CloseF32(Floats(refs, "last_hidden_state"), output.LastHiddenState.ToFloats(), "last_hidden_state");
        Tolerance.CloseF32(Floats(refs, "pooled"), output.Pooled.ToFloats(), "pooled");
        Tolerance.CloseF32(Floats(refs, "hidden_states_m2"), output.HiddenStateFromEnd(2).ToFloats(), "hidden_states[-2]");
        Assert.Equal(refs.Contains("text_embeds"), output.TextEmbeds is not null);
        if (output.TextEmbeds is not null)
        {
            Tolerance.CloseF32(Floats(refs, "text_embeds"), output.TextEmbeds.ToFloats(), "text_embeds");
        }
    }

    private static void WriteTiny(string name, string folder)
    {
        using var cpu = new CpuBackend(1);
        TinyCheckpoint.Write(ClipComponent.Find(name), folder, cpu, seed: 0);
    }

    private static SafeTensorsFile Fixture(string name) => SafeTensorsFile.Open(Path.Combine(RepoPaths.Fixtures("clip"), name + ".safetensors"));

    private static float[] Floats(SafeTensorsFile file, string name) => HostTensors.DecodeFloats(file.Bytes(name), file.Entry(name).DType);
}

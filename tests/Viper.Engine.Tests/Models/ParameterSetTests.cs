using Viper.Engine.Tests.Support;
using Viper.Models.Clip;
using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Parameters with identity: every tensor a model loads is reachable by its checkpoint name; replacing one changes the
/// next forward and restoring puts it back bit for bit; linear layers are reachable by module path and carry an
/// unmerged LoRA adapter that agrees with merging it at load time through <see cref="TransformedWeights"/>.
/// </summary>
public class ParameterSetTests
{
    private static string TextEncoder => RepoPaths.Shared("refs", "sd15", "text_encoder");

    private static readonly int[][] Ids = [[49406, 320, 1125, 539, 49407, 49407, 49407]];

    [Fact]
    public void NamesAreTheCheckpointsTensorNames()
    {
        using IBackend cpu = TestBackends.Create("cpu");
        foreach ((string folder, Func<IDisposable> load, Func<IDisposable, ParameterSet> parameters, string file) in new (string, Func<IDisposable>, Func<IDisposable, ParameterSet>, string)[]
        {
            (TextEncoder, () => ClipTextModel.Load(TextEncoder, cpu, DType.F32), m => ((ClipTextModel)m).Parameters, "model.safetensors"),
            (RepoPaths.Shared("refs", "sd15", "unet"), () => UNet2DConditionModel.Load(RepoPaths.Shared("refs", "sd15", "unet"), cpu, DType.F32),
                m => ((UNet2DConditionModel)m).Parameters, "diffusion_pytorch_model.safetensors"),
        })
        {
            using IDisposable model = load();
            using WeightStore store = WeightStore.Open(Path.Combine(folder, file));
            Assert.Equal(store.Entries.Select(e => e.Name).Order(StringComparer.Ordinal), parameters(model).Names.Order(StringComparer.Ordinal));
            foreach (TensorEntry e in store.Entries)
            {
                Assert.Equal(e.Shape, parameters(model).Info(e.Name).CheckpointShape);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ASetChangesTheNextForwardAndRestoreIsBitExact(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using ClipTextModel model = ClipTextModel.Load(TextEncoder, b, DType.F32);
        float[] before = Encode(model);
        const string name = "text_model.encoder.layers.1.mlp.fc1.weight";
        byte[] original = model.Parameters[name].ToBytes();
        using (Tensor doubled = b.Scale(model.Parameters[name], 2f))
        {
            model.Parameters.Set(name, doubled);
        }

        Assert.Equal([name], model.Parameters.Changed);
        Assert.NotEqual(before, Encode(model));
        model.Parameters.Restore();
        Assert.Equal(original, model.Parameters[name].ToBytes());
        Assert.Equal(before, Encode(model));
        Assert.Empty(model.Parameters.Changed);
        using Tensor wrong = b.Allocate(new Shape(3), DType.F32);
        Assert.Throws<ArgumentException>(() => model.Parameters.Set(name, wrong));
        Assert.Throws<KeyNotFoundException>(() => model.Parameters["text_model.no_such.weight"]);
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void CopyIntoWritesEveryByteOfViewsAndChecksShapes(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        float[] values = Enumerable.Range(0, 24).Select(i => (i * 0.37f) - 3f).ToArray();
        using Tensor source = b.FromFloats(values, new Shape(4, 6));
        using Tensor destination = b.Allocate(new Shape(4, 6), DType.F32);
        using Tensor row = source.Slice(2, 1);
        using Tensor target = destination.Slice(0, 1);
        b.CopyInto(row, target);
        Assert.Equal(values[12..18].Concat(new float[18]), destination.ToFloats());
        using Tensor clone = b.Clone(source);
        Assert.Equal(values, clone.ToFloats());
        using Tensor half = b.Allocate(new Shape(4, 6), DType.F16);
        Assert.Throws<ArgumentException>(() => b.CopyInto(source, half));
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void AnUnmergedLowRankAdapterAgreesWithMergingItAtLoad(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        const string path = "text_model.encoder.layers.0.self_attn.q_proj";
        var rng = new Random(3);
        float[] down = Enumerable.Range(0, 4 * 24).Select(_ => (rng.NextSingle() - 0.5f) * 0.4f).ToArray(); // lora_A (r 4, in 24)
        float[] up = Enumerable.Range(0, 24 * 4).Select(_ => (rng.NextSingle() - 0.5f) * 0.4f).ToArray();   // lora_B (out 24, r 4)
        const float scale = 2f;                                                                                  // alpha 8 / r 4

        using ClipTextModel plain = ClipTextModel.Load(TextEncoder, b, DType.F32);
        float[] base_ = Encode(plain);
        Linear q = plain.Parameters.Linear(path);
        Assert.Equal((24, 24), (q.InFeatures, q.OutFeatures));
        using Tensor downT = b.FromFloats(down, new Shape(4, 24));
        using Tensor upT = b.FromFloats(up, new Shape(24, 4));
        q.Adapter = new LowRankAdapter(downT, upT, scale);
        float[] unmerged = Encode(plain);
        Assert.NotEqual(base_, unmerged);

        // W + scale·B·A computed on the host, handed out by the decorator in place of the checkpoint's q_proj.weight.
        using WeightStore store = WeightStore.Open(Path.Combine(TextEncoder, "model.safetensors"));
        var merging = new TransformedWeights(new CheckpointWeights(store, b, DType.F32), (name, loaded) =>
        {
            if (name != path + ".weight")
            {
                return null;
            }

            float[] w = loaded.ToFloats();
            for (int o = 0; o < 24; o++)
            {
                for (int i = 0; i < 24; i++)
                {
                    float sum = 0f;
                    for (int r = 0; r < 4; r++)
                    {
                        sum += up[(o * 4) + r] * down[(r * 24) + i];
                    }

                    w[(o * 24) + i] += scale * sum;
                }
            }

            return b.FromFloats(w, loaded.Shape);
        });
        using var merged = new ClipTextModel(merging.Root, ClipTextConfig.Load(Path.Combine(TextEncoder, "config.json")), withProjection: false);
        Tolerance.Close(unmerged, Encode(merged), 1e-5f, 1e-4f, "unmerged adapter vs merged weight");

        q.Adapter = null;
        Assert.Equal(base_, Encode(plain));
        Assert.Throws<ArgumentException>(() => q.Adapter = new LowRankAdapter(upT, downT, scale)); // shapes of another layer
    }

    private static float[] Encode(ClipTextModel model)
    {
        using ClipTextOutput output = model.Encode(Ids);
        return output.LastHiddenState.ToFloats();
    }
}

using Viper.Engine.Tests.Support;
using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// The tiny SD1.5-layout UNet in ../shared/refs/sd15/unet (diffusers 0.29.2: 3 levels, conv proj_in/out, 4 heads,
/// 8 groups): noise predictions at t = 999, 500 and 1 for a CFG-style batch of 2, on each backend, f32
/// atol 1e-4 + rtol 1e-4·|ref|.
/// </summary>
public class UNetTests
{
    private static string Folder => RepoPaths.Shared("refs", "sd15", "unet");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ReproducesDiffusersOnTheTinySd15Unet(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using UNet2DConditionModel unet = UNet2DConditionModel.Load(Folder, b, DType.F32);
        using var inputs = new RefTensors(Path.Combine(Folder, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Folder, "outputs.safetensors"));
        using Tensor sample = Nhwc.FromNchw(b, inputs.Floats("sample"), inputs.Shape("sample"));
        using Tensor context = b.FromFloats(inputs.Floats("encoder_hidden_states"), new Shape(inputs.Shape("encoder_hidden_states")));
        foreach (long t in inputs.Longs("timesteps"))
        {
            using Tensor timesteps = b.FromFloats([t, t], new Shape(2));
            using Tensor predicted = unet.Forward(b, sample, timesteps, context);
            Tolerance.Close(outputs.Floats($"noise_pred_t{t}"), Nhwc.ToNchw(predicted), 1e-4f, 1e-4f, $"noise_pred_t{t}");
        }
    }

    [Fact]
    public void RejectsLatentsOfTheWrongShape()
    {
        using IBackend b = TestBackends.Create("cpu");
        using UNet2DConditionModel unet = UNet2DConditionModel.Load(Folder, b, DType.F32);
        using Tensor sample = b.Allocate(new Shape(1, 6, 8, 4), DType.F32);
        using Tensor timesteps = b.FromFloats([1f], new Shape(1));
        using Tensor context = b.Allocate(new Shape(1, 77, 24), DType.F32);
        var e = Assert.Throws<ArgumentException>(() => unet.Forward(b, sample, timesteps, context));
        Assert.Contains("multiples of 4", e.Message);
    }

    /// <summary>
    /// The pooled width belongs to the pipeline (text_encoder_2's projection): an SDXL-layout UNet takes any text_embeds
    /// width P and N time ids with P + N·addition_time_embed_dim = projection_class_embeddings_input_dim (here 16 + 6·8 = 64).
    /// </summary>
    [Fact]
    public void TextTimeConditioningTakesThePooledWidthItIsGiven()
    {
        using IBackend b = TestBackends.Create("cpu");
        var config = new UNet2DConditionConfig
        {
            BlockOutChannels = [32, 64], DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D"], UpBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D"],
            LayersPerBlock = 1, AttentionHeadDim = [2, 4], CrossAttentionDim = 24, UseLinearProjection = true, NormNumGroups = 8, SampleSize = 8,
            AdditionEmbedType = "text_time", AdditionTimeEmbedDim = 8, ProjectionClassEmbeddingsInputDim = 64,
        }.Validated("test config");
        var weights = new Viper.Models.Loading.RandomWeights(b, DType.F32, seed: 4);
        using var unet = new UNet2DConditionModel(weights.Root, config);
        using Tensor sample = b.FromFloats(Enumerable.Range(0, 2 * 8 * 8 * 4).Select(i => MathF.Sin(i * 0.1f)).ToArray(), new Shape(2, 8, 8, 4));
        using Tensor timesteps = b.FromFloats([500f, 500f], new Shape(2));
        using Tensor context = b.FromFloats(Enumerable.Range(0, 2 * 5 * 24).Select(i => MathF.Cos(i * 0.07f)).ToArray(), new Shape(2, 5, 24));
        using Tensor ids = b.FromFloats([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64], new Shape(2, 6));
        float[] Predict(float pooledValue)
        {
            using Tensor pooled = b.FromFloats(Enumerable.Repeat(pooledValue, 2 * 16).ToArray(), new Shape(2, 16));
            using Tensor predicted = unet.Forward(b, sample, timesteps, context, new AddedConditions(pooled, ids));
            return predicted.ToFloats();
        }

        float[] a = Predict(0.5f);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
        Assert.NotEqual(a, Predict(-0.5f));
        using Tensor wide = b.Allocate(new Shape(2, 1280), DType.F32);
        var e = Assert.Throws<ArgumentException>(() => unet.Forward(b, sample, timesteps, context, new AddedConditions(wide, ids)));
        Assert.Contains("P + N·8 = 64", e.Message, StringComparison.Ordinal);
    }
}

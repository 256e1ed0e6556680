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
}

using Viper.Engine.Tests.Support;
using Viper.Models.Vae;
using Viper.Runtime;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// The tiny AutoencoderKL in ../shared/refs/sd15/vae (diffusers 0.29.2: 4 levels, mid attention, 8 groups): decode of
/// raw latents and the encoder's mean and std, on each backend, f32 atol 1e-4 + rtol 1e-4·|ref|.
/// </summary>
public class AutoencoderKLTests
{
    private static string Folder => RepoPaths.Shared("refs", "sd15", "vae");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void DecodesAndEncodesLikeDiffusers(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using AutoencoderKL vae = AutoencoderKL.Load(Folder, b, DType.F32);
        using var inputs = new RefTensors(Path.Combine(Folder, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Folder, "outputs.safetensors"));
        using (Tensor latents = Nhwc.FromNchw(b, inputs.Floats("latents"), inputs.Shape("latents")))
        using (Tensor decoded = vae.Decode(b, latents))
        {
            Tolerance.Close(outputs.Floats("decoded"), Nhwc.ToNchw(decoded), 1e-4f, 1e-4f, "decoded");
        }

        using Tensor image = Nhwc.FromNchw(b, inputs.Floats("image"), inputs.Shape("image"));
        LatentDistribution dist = vae.Encode(b, image);
        using Tensor mean = b.FromFloats(dist.Mean, dist.Shape);
        using Tensor std = b.FromFloats(dist.Std, dist.Shape);
        Tolerance.Close(outputs.Floats("latent_mean"), Nhwc.ToNchw(mean), 1e-4f, 1e-4f, "latent_mean");
        Tolerance.Close(outputs.Floats("latent_std"), Nhwc.ToNchw(std), 1e-4f, 1e-4f, "latent_std");
        Assert.Equal(0.18215, vae.Config.ScalingFactor);
    }

    [Fact]
    public void RejectsImagesThatDoNotDivideIntoLatents()
    {
        using IBackend b = TestBackends.Create("cpu");
        using AutoencoderKL vae = AutoencoderKL.Load(Folder, b, DType.F32);
        using Tensor image = b.Allocate(new Shape(1, 60, 64, 3), DType.F32);
        Assert.Contains("multiples of 8", Assert.Throws<ArgumentException>(() => vae.Encode(b, image)).Message);
    }
}

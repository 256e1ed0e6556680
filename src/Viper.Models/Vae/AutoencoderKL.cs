using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Vae;

/// <summary>The encoder's diagonal Gaussian over latents: mean and std (log-variance clamped to [−30, 20]), NHWC.</summary>
public sealed record LatentDistribution(float[] Mean, float[] Std, Shape Shape);

/// <summary>
/// diffusers AutoencoderKL (autoencoder_kl.py) on NHWC tensors: <see cref="Decode"/> takes raw latents (already divided
/// by <see cref="AutoencoderKLConfig.ScalingFactor"/>) through post_quant_conv and the decoder to pixels in about [−1, 1];
/// <see cref="Encode"/> takes pixels in [−1, 1] through the encoder and quant_conv to the latent distribution.
/// </summary>
public sealed class AutoencoderKL : Module
{
    private readonly VaeEncoder _encoder;
    private readonly VaeDecoder _decoder;
    private readonly Conv2d? _quantConv, _postQuantConv;

    public AutoencoderKL(WeightScope root, AutoencoderKLConfig config)
    {
        Config = config;
        Parameters = Own(root.Source.Parameters);
        int latent = config.LatentChannels;
        _encoder = Own(new VaeEncoder(root["encoder"], config));
        _decoder = Own(new VaeDecoder(root["decoder"], config));
        _quantConv = config.UseQuantConv ? Own(new Conv2d(root["quant_conv"], 2 * latent, 2 * latent, 1)) : null;
        _postQuantConv = config.UsePostQuantConv ? Own(new Conv2d(root["post_quant_conv"], latent, latent, 1)) : null;
        DType = root.DType;
    }

    public AutoencoderKLConfig Config { get; }

    /// <summary>Every parameter loaded for this model, by its checkpoint name.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The dtype the VAE computes in (f32 when the config forces an upcast).</summary>
    public DType DType { get; }

    /// <summary>
    /// Loads a diffusers <c>vae</c> folder; with <c>force_upcast</c> in its config the weights are kept in f32 whatever
    /// <paramref name="dtype"/> asks, as diffusers' pipelines upcast such a VAE.
    /// </summary>
    public static AutoencoderKL Load(string folder, IBackend backend, DType dtype, string? variant = null)
    {
        _ = backend.Diffusion(); // refused now, not at the first step, on a backend without the op group
        AutoencoderKLConfig config = AutoencoderKLConfig.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "diffusion_pytorch_model", variant,
            store => new AutoencoderKL(new CheckpointWeights(store, backend, config.ForceUpcast ? DType.F32 : dtype).Root, config));
    }

    /// <summary>Raw latents (N, h, w, C) → pixels (N, h·f, w·f, 3), unclamped.</summary>
    public Tensor Decode(IBackend b, Tensor latents)
    {
        RequireChannels(latents, Config.LatentChannels, "latents");
        using Tensor? cast = latents.DType == DType ? null : b.Cast(latents, DType);
        Tensor input = cast ?? latents;
        if (_postQuantConv is null)
        {
            return _decoder.Forward(b, input);
        }

        using Tensor quant = _postQuantConv.Forward(b, input);
        return _decoder.Forward(b, quant);
    }

    /// <summary>Pixels (N, H, W, 3) in [−1, 1], H and W multiples of the down factor → the latent distribution.</summary>
    public LatentDistribution Encode(IBackend b, Tensor pixels)
    {
        RequireChannels(pixels, Config.InChannels, "pixels");
        if (pixels.Shape[1] % Config.DownFactor != 0 || pixels.Shape[2] % Config.DownFactor != 0)
        {
            throw new ArgumentException($"vae: image height and width must be multiples of {Config.DownFactor}, not {pixels.Shape}");
        }

        using Tensor? cast = pixels.DType == DType ? null : b.Cast(pixels, DType);
        using Tensor encoded = _encoder.Forward(b, cast ?? pixels);
        using Tensor? quantized = _quantConv?.Forward(b, encoded);
        Tensor moments = quantized ?? encoded;
        float[] values = moments.ToFloats();
        int latent = Config.LatentChannels;
        int positions = values.Length / (2 * latent);
        var mean = new float[positions * latent];
        var std = new float[positions * latent];
        for (int p = 0; p < positions; p++)
        {
            for (int c = 0; c < latent; c++)
            {
                mean[(p * latent) + c] = values[(p * 2 * latent) + c];
                float logVariance = Math.Clamp(values[(p * 2 * latent) + latent + c], -30f, 20f);
                std[(p * latent) + c] = MathF.Exp(0.5f * logVariance);
            }
        }

        return new LatentDistribution(mean, std, moments.Shape.With(3, latent));
    }

    private static void RequireChannels(Tensor x, int channels, string what)
    {
        if (x.Shape.Rank != 4 || x.Shape[3] != channels)
        {
            throw new ArgumentException($"vae: {what} must be (N, H, W, {channels}), not {x.Shape}");
        }
    }
}

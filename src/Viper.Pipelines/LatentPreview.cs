using Viper.Imaging;

namespace Viper.Pipelines;

/// <summary>
/// A step preview without the VAE: RGB = Lᵀ·latent + bias per latent pixel, then (x + 1)/2 clamped, as ComfyUI's
/// Latent2RGB previewer does (comfy/latent_formats.py: SD15 and SDXL factors, fitted to their VAEs). Random-weight
/// test pipelines get the factors of the family they imitate; the picture is then as meaningless as their VAE's.
/// </summary>
public sealed class LatentPreview
{
    private readonly float[,] _factors;
    private readonly float[] _bias;

    private LatentPreview(float[,] factors, float[] bias) => (_factors, _bias) = (factors, bias);

    /// <summary>SD 1.x/2.x latents (VAE scaling 0.18215).</summary>
    public static LatentPreview StableDiffusion { get; } = new(new float[,]
    {
        { 0.3512f, 0.2297f, 0.3227f }, { 0.3250f, 0.4974f, 0.2350f }, { -0.2829f, 0.1762f, 0.2721f }, { -0.2120f, -0.2616f, -0.7177f },
    }, [0f, 0f, 0f]);

    /// <summary>SDXL latents (VAE scaling 0.13025).</summary>
    public static LatentPreview StableDiffusionXl { get; } = new(new float[,]
    {
        { 0.3651f, 0.4232f, 0.4341f }, { -0.2533f, -0.0042f, 0.1068f }, { 0.1076f, 0.1111f, -0.0362f }, { -0.3165f, -0.2492f, -0.2188f },
    }, [0.1084f, -0.0175f, -0.0011f]);

    /// <summary>NCHW latents → one image per batch entry, one pixel per latent position.</summary>
    public RgbImage[] ToImages(float[] latents, int n, int c, int h, int w)
    {
        if (c != _factors.GetLength(0))
        {
            throw new ArgumentException($"a latent preview maps {_factors.GetLength(0)} channels, not {c}");
        }

        var images = new RgbImage[n];
        int plane = h * w;
        for (int i = 0; i < n; i++)
        {
            byte[] pixels = new byte[plane * 3];
            for (int p = 0; p < plane; p++)
            {
                for (int rgb = 0; rgb < 3; rgb++)
                {
                    float v = _bias[rgb];
                    for (int ch = 0; ch < c; ch++)
                    {
                        v += _factors[ch, rgb] * latents[(((i * c) + ch) * plane) + p];
                    }

                    pixels[(p * 3) + rgb] = (byte)MathF.Round(Math.Clamp((v + 1f) / 2f, 0f, 1f) * 255f);
                }
            }

            images[i] = new RgbImage(w, h, pixels);
        }

        return images;
    }
}

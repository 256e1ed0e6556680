using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Models.Vae;

/// <summary>
/// diffusers' VAE Decoder: conv_in, the mid block, UpDecoderBlock2D blocks over the reversed channels
/// (layers_per_block + 1 resnets, then a nearest 2× upsample and conv except in the last), conv_norm_out + SiLU, conv_out.
/// </summary>
public sealed class VaeDecoder : Module
{
    private const float Eps = 1e-6f;
    private readonly Conv2d _convIn, _convOut;
    private readonly VaeMidBlock _mid;
    private readonly List<(ResnetBlock2D[] Resnets, Upsample2D? Up)> _blocks = [];
    private readonly GroupNorm _normOut;

    public VaeDecoder(WeightScope scope, AutoencoderKLConfig config)
    {
        int[] reversed = config.BlockOutChannels.Reverse().ToArray();
        _convIn = Own(new Conv2d(scope["conv_in"], config.LatentChannels, reversed[0], 3));
        _mid = Own(new VaeMidBlock(scope["mid_block"], reversed[0], config.NormNumGroups));
        for (int i = 0; i < reversed.Length; i++)
        {
            WeightScope block = scope["up_blocks"][i];
            int input = i == 0 ? reversed[0] : reversed[i - 1];
            ResnetBlock2D[] resnets = Enumerable.Range(0, config.LayersPerBlock + 1)
                .Select(j => Own(new ResnetBlock2D(block["resnets"][j], j == 0 ? input : reversed[i], reversed[i], null, config.NormNumGroups, Eps)))
                .ToArray();
            Upsample2D? up = i == reversed.Length - 1 ? null : Own(new Upsample2D(block["upsamplers"][0], reversed[i]));
            _blocks.Add((resnets, up));
        }

        _normOut = Own(new GroupNorm(scope["conv_norm_out"], config.NormNumGroups, reversed[^1], Eps));
        _convOut = Own(new Conv2d(scope["conv_out"], reversed[^1], config.OutChannels, 3));
    }

    public Tensor Forward(IBackend b, Tensor latents)
    {
        Tensor hidden = _convIn.Forward(b, latents);
        hidden = VaeEncoder.Replace(hidden, _mid.Forward(b, hidden));
        foreach ((ResnetBlock2D[] resnets, Upsample2D? up) in _blocks)
        {
            foreach (ResnetBlock2D resnet in resnets)
            {
                hidden = VaeEncoder.Replace(hidden, resnet.Forward(b, hidden, null));
            }

            if (up is not null)
            {
                hidden = VaeEncoder.Replace(hidden, up.Forward(b, hidden));
            }
        }

        using (hidden)
        using (Tensor normed = _normOut.Forward(b, hidden, silu: true))
        {
            return _convOut.Forward(b, normed);
        }
    }
}

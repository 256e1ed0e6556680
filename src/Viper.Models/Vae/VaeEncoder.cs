using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Models.Vae;

/// <summary>
/// diffusers' VAE Encoder (autoencoders/vae.py): conv_in, DownEncoderBlock2D blocks (resnets, then a stride-2 conv
/// padded bottom/right except in the last), the mid block, conv_norm_out + SiLU, conv_out to 2·latent channels (mean, log-variance).
/// </summary>
public sealed class VaeEncoder : Module
{
    private const float Eps = 1e-6f;
    private readonly Conv2d _convIn, _convOut;
    private readonly List<(ResnetBlock2D[] Resnets, Downsample2D? Down)> _blocks = [];
    private readonly VaeMidBlock _mid;
    private readonly GroupNorm _normOut;

    public VaeEncoder(WeightScope scope, AutoencoderKLConfig config)
    {
        int[] channels = config.BlockOutChannels;
        _convIn = Own(new Conv2d(scope["conv_in"], config.InChannels, channels[0], 3));
        for (int i = 0; i < channels.Length; i++)
        {
            WeightScope block = scope["down_blocks"][i];
            int input = i == 0 ? channels[0] : channels[i - 1];
            ResnetBlock2D[] resnets = Enumerable.Range(0, config.LayersPerBlock)
                .Select(j => Own(new ResnetBlock2D(block["resnets"][j], j == 0 ? input : channels[i], channels[i], null, config.NormNumGroups, Eps)))
                .ToArray();
            Downsample2D? down = i == channels.Length - 1 ? null : Own(new Downsample2D(block["downsamplers"][0], channels[i], asymmetricPadding: true));
            _blocks.Add((resnets, down));
        }

        _mid = Own(new VaeMidBlock(scope["mid_block"], channels[^1], config.NormNumGroups));
        _normOut = Own(new GroupNorm(scope["conv_norm_out"], config.NormNumGroups, channels[^1], Eps));
        _convOut = Own(new Conv2d(scope["conv_out"], channels[^1], 2 * config.LatentChannels, 3));
    }

    public Tensor Forward(IBackend b, Tensor pixels)
    {
        Tensor hidden = _convIn.Forward(b, pixels);
        foreach ((ResnetBlock2D[] resnets, Downsample2D? down) in _blocks)
        {
            foreach (ResnetBlock2D resnet in resnets)
            {
                hidden = Replace(hidden, resnet.Forward(b, hidden, null));
            }

            if (down is not null)
            {
                hidden = Replace(hidden, down.Forward(b, hidden));
            }
        }

        hidden = Replace(hidden, _mid.Forward(b, hidden));
        using (hidden)
        using (Tensor normed = _normOut.Forward(b, hidden, silu: true))
        {
            return _convOut.Forward(b, normed);
        }
    }

    internal static Tensor Replace(Tensor old, Tensor next)
    {
        old.Dispose();
        return next;
    }
}

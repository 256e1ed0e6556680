using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers UpBlock2D / CrossAttnUpBlock2D: layers_per_block + 1 resnets, each on the channel concatenation of the
/// hidden state and the newest unused skip connection, each followed by an attention in the cross-attention variant,
/// then <c>upsamplers.0</c> unless it is the last block.
/// </summary>
public sealed class UNetUpBlock : Module
{
    private readonly ResnetBlock2D[] _resnets;
    private readonly Transformer2DModel[]? _attentions;
    private readonly Upsample2D? _upsampler;

    /// <param name="block">The index among up blocks; per-block values are read reversed, as diffusers does.</param>
    public UNetUpBlock(WeightScope scope, UNet2DConditionConfig config, int block, int prevOutputChannels, int outChannels, int inChannels,
        bool last)
    {
        int levels = config.BlockOutChannels.Length;
        int reversed = levels - 1 - block;
        int count = config.LayersPerBlock + 1;
        _resnets = Enumerable.Range(0, count)
            .Select(i =>
            {
                int skipChannels = i == count - 1 ? inChannels : outChannels;
                int resnetIn = i == 0 ? prevOutputChannels : outChannels;
                return Own(new ResnetBlock2D(scope["resnets"][i], resnetIn + skipChannels, outChannels, config.TimeEmbedDim,
                    config.NormNumGroups, config.NormEps));
            })
            .ToArray();
        _attentions = config.UpBlockTypes[block] == "CrossAttnUpBlock2D"
            ? Enumerable.Range(0, count)
                .Select(i => Own(new Transformer2DModel(scope["attentions"][i], outChannels, config.HeadsOf(reversed),
                    UNet2DConditionConfig.PerBlock(config.TransformerLayersPerBlock, reversed), config.CrossAttentionDim, config.NormNumGroups,
                    config.UseLinearProjection)))
                .ToArray()
            : null;
        _upsampler = last ? null : Own(new Upsample2D(scope["upsamplers"][0], outChannels));
    }

    public int SkipCount => _resnets.Length;

    /// <summary>Consumes the newest <see cref="SkipCount"/> skips (removing them from the list); x is not disposed.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor tembSilu, Tensor context, List<Tensor> skips)
    {
        Tensor hidden = x;
        for (int i = 0; i < _resnets.Length; i++)
        {
            Tensor skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            Tensor next;
            using (skip)
            using (Tensor joined = b.Concat([hidden, skip], axis: 3))
            {
                next = _resnets[i].Forward(b, joined, tembSilu);
            }

            if (!ReferenceEquals(hidden, x))
            {
                hidden.Dispose();
            }

            hidden = next;
            if (_attentions is not null)
            {
                using Tensor beforeAttention = hidden;
                hidden = _attentions[i].Forward(b, beforeAttention, context);
            }
        }

        if (_upsampler is null)
        {
            return hidden;
        }

        using (hidden)
        {
            return _upsampler.Forward(b, hidden);
        }
    }
}

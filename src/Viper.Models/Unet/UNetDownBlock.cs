using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers DownBlock2D / CrossAttnDownBlock2D (unet_2d_blocks.py): <c>resnets[i]</c>, each followed by
/// <c>attentions[i]</c> in the cross-attention variant, then <c>downsamplers.0</c> unless it is the last block.
/// Every resnet(+attention) output and the downsampled output are skip connections for the up path.
/// </summary>
public sealed class UNetDownBlock : Module
{
    private readonly ResnetBlock2D[] _resnets;
    private readonly Transformer2DModel[]? _attentions;
    private readonly Downsample2D? _downsampler;

    public UNetDownBlock(WeightScope scope, UNet2DConditionConfig config, int block, int inChannels, int outChannels, bool last)
    {
        bool crossAttention = config.DownBlockTypes[block] == "CrossAttnDownBlock2D";
        _resnets = Enumerable.Range(0, config.LayersPerBlock)
            .Select(i => Own(new ResnetBlock2D(scope["resnets"][i], i == 0 ? inChannels : outChannels, outChannels, config.TimeEmbedDim,
                config.NormNumGroups, config.NormEps)))
            .ToArray();
        _attentions = crossAttention
            ? Enumerable.Range(0, config.LayersPerBlock)
                .Select(i => Own(new Transformer2DModel(scope["attentions"][i], outChannels, config.HeadsOf(block),
                    UNet2DConditionConfig.PerBlock(config.TransformerLayersPerBlock, block), config.CrossAttentionDim, config.NormNumGroups,
                    config.UseLinearProjection)))
                .ToArray()
            : null;
        _downsampler = last ? null : Own(new Downsample2D(scope["downsamplers"][0], outChannels, asymmetricPadding: false));
    }

    /// <summary>Runs the block, appending its skip connections to <paramref name="skips"/>; returns the last of them.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor tembSilu, Tensor context, List<Tensor> skips)
    {
        Tensor hidden = x;
        for (int i = 0; i < _resnets.Length; i++)
        {
            hidden = _resnets[i].Forward(b, hidden, tembSilu);
            if (_attentions is not null)
            {
                using Tensor beforeAttention = hidden;
                hidden = _attentions[i].Forward(b, beforeAttention, context);
            }

            skips.Add(hidden);
        }

        if (_downsampler is not null)
        {
            hidden = _downsampler.Forward(b, hidden);
            skips.Add(hidden);
        }

        return hidden;
    }
}

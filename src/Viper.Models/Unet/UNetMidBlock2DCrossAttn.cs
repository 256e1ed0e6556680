using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>diffusers UNetMidBlock2DCrossAttn: resnets.0, attentions.0 (the last block's transformer depth), resnets.1.</summary>
public sealed class UNetMidBlock2DCrossAttn : Module
{
    private readonly ResnetBlock2D _resnet0, _resnet1;
    private readonly Transformer2DModel _attention;

    public UNetMidBlock2DCrossAttn(WeightScope scope, UNet2DConditionConfig config)
    {
        int last = config.BlockOutChannels.Length - 1;
        int channels = config.BlockOutChannels[last];
        _resnet0 = Own(new ResnetBlock2D(scope["resnets"][0], channels, channels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps));
        _attention = Own(new Transformer2DModel(scope["attentions"][0], channels, config.HeadsOf(last),
            UNet2DConditionConfig.PerBlock(config.TransformerLayersPerBlock, last), config.CrossAttentionDim, config.NormNumGroups,
            config.UseLinearProjection));
        _resnet1 = Own(new ResnetBlock2D(scope["resnets"][1], channels, channels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps));
    }

    public Tensor Forward(IBackend b, Tensor x, Tensor tembSilu, Tensor context)
    {
        using Tensor h0 = _resnet0.Forward(b, x, tembSilu);
        using Tensor h1 = _attention.Forward(b, h0, context);
        return _resnet1.Forward(b, h1, tembSilu);
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Models.Vae;

/// <summary>
/// diffusers UNetMidBlock2D as the VAE uses it: resnets.0, a single-head self-attention over all positions
/// (<c>attentions.0</c>: group_norm, to_q/to_k/to_v with biases, to_out.0, plus the input), resnets.1.
/// </summary>
public sealed class VaeMidBlock : Module
{
    private const float Eps = 1e-6f;
    private readonly ResnetBlock2D _resnet0, _resnet1;
    private readonly GroupNorm _attentionNorm;
    private readonly Attention _attention;

    public VaeMidBlock(WeightScope scope, int channels, int groups)
    {
        _resnet0 = Own(new ResnetBlock2D(scope["resnets"][0], channels, channels, null, groups, Eps));
        _attentionNorm = Own(new GroupNorm(scope["attentions"][0]["group_norm"], groups, channels, Eps));
        _attention = Own(new Attention(scope["attentions"][0], channels, channels, heads: 1, headDim: channels, qkvBias: true));
        _resnet1 = Own(new ResnetBlock2D(scope["resnets"][1], channels, channels, null, groups, Eps));
    }

    public Tensor Forward(IBackend b, Tensor x)
    {
        (int n, int h, int w, int c) = (x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]);
        using Tensor h0 = _resnet0.Forward(b, x, null);
        Tensor attended;
        using (Tensor normed = _attentionNorm.Forward(b, h0))
        using (Tensor tokens = normed.Reshape(n, h * w, c))
        using (Tensor residual = h0.Reshape(n, h * w, c))
        {
            attended = _attention.Forward(b, tokens, residual: residual).ReshapeInto(n, h, w, c);
        }

        using (attended)
        {
            return _resnet1.Forward(b, attended, null);
        }
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers ResnetBlock2D (resnet.py, time_embedding_norm "default", output scale 1): norm1+SiLU, conv1, norm2 of
/// (h + time_emb_proj(SiLU(temb))) + SiLU, conv2, plus the input — through a 1×1 <c>conv_shortcut</c> when the channel
/// count changes. The VAE's blocks have no time embedding.
/// </summary>
public sealed class ResnetBlock2D : Module
{
    private readonly GroupNorm _norm1, _norm2;
    private readonly Conv2d _conv1, _conv2;
    private readonly Linear? _timeEmbProj;
    private readonly Conv2d? _shortcut;

    public ResnetBlock2D(WeightScope scope, int inChannels, int outChannels, int? tembChannels, int groups, float eps)
    {
        _norm1 = Own(new GroupNorm(scope["norm1"], groups, inChannels, eps));
        _conv1 = Own(new Conv2d(scope["conv1"], inChannels, outChannels, 3));
        _timeEmbProj = tembChannels is { } t ? Own(new Linear(scope["time_emb_proj"], t, outChannels)) : null;
        _norm2 = Own(new GroupNorm(scope["norm2"], groups, outChannels, eps));
        _conv2 = Own(new Conv2d(scope["conv2"], outChannels, outChannels, 3));
        _shortcut = inChannels != outChannels ? Own(new Conv2d(scope["conv_shortcut"], inChannels, outChannels, 1)) : null;
    }

    /// <summary>x (N, H, W, Cin); <paramref name="tembSilu"/> = SiLU(temb) (N, T), shared by every block of a forward.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor? tembSilu)
    {
        Tensor h;
        using (Tensor normed = _norm1.Forward(b, x, silu: true))
        {
            h = _conv1.Forward(b, normed);
        }

        Tensor? t = _timeEmbProj is not null && tembSilu is not null ? _timeEmbProj.Forward(b, tembSilu) : null;
        Tensor normed2;
        using (h)
        using (t)
        {
            normed2 = _norm2.Forward(b, h, silu: true, add: t);
        }

        using (normed2)
        {
            if (_shortcut is null)
            {
                return _conv2.Forward(b, normed2, residual: x);
            }

            using Tensor skip = _shortcut.Forward(b, x);
            return _conv2.Forward(b, normed2, residual: skip);
        }
    }
}

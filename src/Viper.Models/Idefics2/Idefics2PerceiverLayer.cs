using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2PerceiverLayer (<c>layers.N</c>): RMS-normed latents attend to the RMS-normed context and
/// themselves, then a 4× SwiGLU MLP, each with a residual.
/// </summary>
public sealed class Idefics2PerceiverLayer : Module
{
    private readonly RmsNorm _inputLatentsNorm, _inputContextNorm, _postAttentionLayernorm;
    private readonly Idefics2PerceiverAttention _selfAttn;
    private readonly GatedMlp _mlp;

    public Idefics2PerceiverLayer(WeightScope scope, int hidden, float eps, Idefics2PerceiverConfig config)
    {
        _inputLatentsNorm = Own(new RmsNorm(scope["input_latents_norm"], hidden, eps));
        _inputContextNorm = Own(new RmsNorm(scope["input_context_norm"], hidden, eps));
        _selfAttn = Own(new Idefics2PerceiverAttention(scope["self_attn"], hidden, config));
        _postAttentionLayernorm = Own(new RmsNorm(scope["post_attention_layernorm"], hidden, eps));
        _mlp = Own(new GatedMlp(scope["mlp"], hidden, hidden * 4, hidden));
    }

    public Tensor Forward(IBackend b, Tensor latents, Tensor context, Tensor keyMask)
    {
        Tensor afterAttention;
        using (Tensor normedLatents = _inputLatentsNorm.Forward(b, latents))
        using (Tensor normedContext = _inputContextNorm.Forward(b, context))
        using (Tensor attended = _selfAttn.Forward(b, normedLatents, normedContext, keyMask))
        {
            afterAttention = b.Add(latents, attended);
        }

        using (afterAttention)
        using (Tensor normed = _postAttentionLayernorm.Forward(b, afterAttention))
        using (Tensor mlp = _mlp.Forward(b, normed))
        {
            return b.Add(afterAttention, mlp);
        }
    }
}

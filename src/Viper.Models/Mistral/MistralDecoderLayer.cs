using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>MistralDecoderLayer (<c>layers.N</c>): pre-norm attention and MLP, each with a residual.</summary>
public sealed class MistralDecoderLayer : Module
{
    private readonly RmsNorm _inputLayernorm;
    private readonly MistralAttention _selfAttn;
    private readonly RmsNorm _postAttentionLayernorm;
    private readonly GatedMlp _mlp;

    public MistralDecoderLayer(WeightScope scope, MistralConfig config)
    {
        _inputLayernorm = Own(new RmsNorm(scope["input_layernorm"], config.HiddenSize, config.RmsNormEps));
        _selfAttn = Own(new MistralAttention(scope["self_attn"], config));
        _postAttentionLayernorm = Own(new RmsNorm(scope["post_attention_layernorm"], config.HiddenSize, config.RmsNormEps));
        _mlp = Own(new GatedMlp(scope["mlp"], config.HiddenSize, config.IntermediateSize, config.HiddenSize));
    }

    public Tensor Forward(IBackend b, Tensor x, MistralStep step, Tensor cacheKeys, Tensor cacheValues)
    {
        Tensor afterAttention;
        using (Tensor normed = _inputLayernorm.Forward(b, x))
        using (Tensor attended = _selfAttn.Forward(b, normed, step, cacheKeys, cacheValues))
        {
            afterAttention = b.Add(x, attended);
        }

        using (afterAttention)
        using (Tensor normed = _postAttentionLayernorm.Forward(b, afterAttention))
        using (Tensor mlp = _mlp.Forward(b, normed))
        {
            return b.Add(afterAttention, mlp);
        }
    }
}

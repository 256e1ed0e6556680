using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>
/// transformers CLIPVisionTransformer (<c>vision_model</c>): embeddings, <c>pre_layrnorm</c> (sic, the checkpoint's
/// spelling), the encoder without a mask, and <c>post_layernorm</c> of the class token as the pooled output.
/// </summary>
public sealed class ClipVisionTransformer : Module
{
    private readonly ClipVisionConfig _config;
    private readonly ClipVisionEmbeddings _embeddings;
    private readonly LayerNorm _preLayrnorm;
    private readonly ClipEncoder _encoder;
    private readonly LayerNorm _postLayernorm;

    public ClipVisionTransformer(WeightScope scope, ClipVisionConfig config)
    {
        _config = config;
        _embeddings = Own(new ClipVisionEmbeddings(scope["embeddings"], config));
        _preLayrnorm = Own(new LayerNorm(scope["pre_layrnorm"], config.HiddenSize, config.LayerNormEps));
        _encoder = Own(new ClipEncoder(scope["encoder"], config.NumHiddenLayers, config.HiddenSize, config.IntermediateSize,
            config.NumAttentionHeads, ClipActivations.Parse(config.HiddenAct, "vision config"), config.LayerNormEps, causal: false));
        _postLayernorm = Own(new LayerNorm(scope["post_layernorm"], config.HiddenSize, config.LayerNormEps));
    }

    /// <summary>
    /// pixels NHWC → the encoder states (last_hidden_state = <see cref="EncoderStates.Last"/>, (B, 1 + patches, C), and
    /// the kept hidden states, 0 being pre_layrnorm's output) and the pooled output post_layernorm(class token) (B, C).
    /// </summary>
    public (EncoderStates States, Tensor Pooled) Forward(IBackend b, Tensor pixels, HiddenStates keep, CancellationToken cancellationToken = default)
    {
        int batch = pixels.Shape[0], tokens = pixels.Shape[1] / _config.PatchSize * (pixels.Shape[2] / _config.PatchSize) + 1;
        keep.Validate(_encoder.LayerCount + 1);
        EncoderStates states;
        using (Tensor embedded = _embeddings.Forward(b, pixels))
        {
            states = _encoder.Forward(b, _preLayrnorm.Forward(b, embedded), keep, cancellationToken);
        }

        try
        {
            Tensor[] parts = b.Split(states.Last, 1, [1, tokens - 1]);
            parts[1].Dispose();
            using Tensor classToken = parts[0];
            return (states, _postLayernorm.Forward(b, classToken.Reshape(batch, _config.HiddenSize)));
        }
        catch
        {
            states.Dispose();
            throw;
        }
    }
}

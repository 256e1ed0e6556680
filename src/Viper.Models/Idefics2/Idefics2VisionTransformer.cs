using Viper.Models.Clip;
using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2VisionTransformer (<c>model.vision_model</c>): patch embeddings, the SigLIP encoder (CLIP's layer
/// structure, non-causal, padding patches masked out as keys), the post layer norm.
/// </summary>
public sealed class Idefics2VisionTransformer : Module
{
    private readonly Idefics2VisionConfig _config;
    private readonly Idefics2VisionEmbeddings _embeddings;
    private readonly ClipEncoder _encoder;
    private readonly LayerNorm _postLayernorm;

    public Idefics2VisionTransformer(WeightScope scope, Idefics2VisionConfig config)
    {
        _config = config;
        _embeddings = Own(new Idefics2VisionEmbeddings(scope["embeddings"], config));
        _encoder = Own(new ClipEncoder(scope["encoder"], config.NumHiddenLayers, config.HiddenSize, config.IntermediateSize, config.NumAttentionHeads,
            ClipActivations.Parse(config.HiddenAct, "vision_config"), config.LayerNormEps, causal: false));
        _postLayernorm = Own(new LayerNorm(scope["post_layernorm"], config.HiddenSize, config.LayerNormEps));
    }

    /// <summary>pixels NHWC (images, H, W, channels) with their patch grid → last hidden state (images, patches, C).</summary>
    public Tensor Forward(IBackend b, Tensor pixels, PatchGrid grid, CancellationToken cancellationToken = default)
    {
        if (pixels.Shape.Rank != 4 || pixels.Shape[3] != _config.NumChannels || pixels.Shape[0] != grid.Images
            || pixels.Shape[1] / _config.PatchSize != grid.Rows || pixels.Shape[2] / _config.PatchSize != grid.Columns)
        {
            throw new ArgumentException($"idefics2 vision: pixels {pixels.Shape} do not match a patch grid of {grid.Images} images × {grid.Rows}×{grid.Columns} patches of {_config.PatchSize}");
        }

        Tensor embeddings = _embeddings.Forward(b, pixels, grid);
        bool padded = grid.Real.Any(r => !r);
        using Tensor? keyMask = padded ? b.FromInts(grid.KeyMask(), new Shape(grid.Images, grid.PatchesPerImage)) : null;
        using EncoderStates states = _encoder.Forward(b, embeddings, HiddenStates.None, cancellationToken, keyMask);
        return _postLayernorm.Forward(b, states.Last);
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2VisionEmbeddings (<c>embeddings</c>): a stride-P P×P patch convolution with bias, then learned
/// position embeddings picked per patch by <see cref="PatchGrid.PositionIds"/> (NaViT-style buckets for any image size).
/// </summary>
public sealed class Idefics2VisionEmbeddings : Module
{
    private readonly Idefics2VisionConfig _config;
    private readonly Tensor _patchWeight;
    private readonly Tensor _patchBias;
    private readonly Tensor _positionEmbedding;

    public Idefics2VisionEmbeddings(WeightScope scope, Idefics2VisionConfig config)
    {
        _config = config;
        _patchWeight = Own(scope.Conv("patch_embedding.weight", config.HiddenSize, config.NumChannels, config.PatchSize, config.PatchSize));
        _patchBias = Own(scope["patch_embedding"].Tensor("bias", config.HiddenSize));
        _positionEmbedding = Own(scope["position_embedding"].Tensor("weight", config.PatchesPerSide * config.PatchesPerSide, config.HiddenSize));
    }

    /// <summary>pixels NHWC (images, H, W, channels) → (images, patches, C).</summary>
    public Tensor Forward(IBackend b, Tensor pixels, PatchGrid grid)
    {
        int images = pixels.Shape[0], c = _config.HiddenSize;
        using Tensor patches = b.Conv2d(pixels, _patchWeight, _patchBias, new Conv2dOptions(_config.PatchSize, Padding2d.Same(0)));
        using Tensor ids = b.FromInts(grid.PositionIds(_config.PatchesPerSide), new Shape(images, grid.PatchesPerImage));
        using Tensor positions = b.Embedding(_positionEmbedding, ids);
        return b.Add(patches.Reshape(images, grid.PatchesPerImage, c), positions);
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>
/// transformers CLIPVisionEmbeddings (<c>embeddings</c>): a stride-P P×P patch convolution without bias, the class
/// embedding prepended, learned position embeddings added.
/// </summary>
public sealed class ClipVisionEmbeddings : Module
{
    private readonly ClipVisionConfig _config;
    private readonly Tensor _classEmbedding;
    private readonly Tensor _patchEmbedding;
    private readonly Tensor _positionEmbedding;

    public ClipVisionEmbeddings(WeightScope scope, ClipVisionConfig config)
    {
        _config = config;
        _classEmbedding = Own(scope.Tensor("class_embedding", config.HiddenSize));
        _patchEmbedding = Own(scope.Conv("patch_embedding.weight", config.HiddenSize, config.NumChannels, config.PatchSize, config.PatchSize));
        _positionEmbedding = Own(scope["position_embedding"].Tensor("weight", (config.PatchesPerSide * config.PatchesPerSide) + 1, config.HiddenSize));
    }

    /// <summary>pixels NHWC (B, S, S, channels) → (B, 1 + patches, C).</summary>
    public Tensor Forward(IBackend b, Tensor pixels)
    {
        int batch = pixels.Shape[0], patches = _config.PatchesPerSide * _config.PatchesPerSide, c = _config.HiddenSize;
        using Tensor grid = b.Conv2d(pixels, _patchEmbedding, null, new Conv2dOptions(_config.PatchSize, Padding2d.Same(0)));
        using Tensor zeros = b.Allocate(new Shape(batch, 1, c), pixels.DType);
        using Tensor classRow = b.Add(zeros, _classEmbedding);
        using Tensor sequence = b.Concat([classRow, grid.Reshape(batch, patches, c)], 1);
        return b.Add(sequence, _positionEmbedding);
    }
}

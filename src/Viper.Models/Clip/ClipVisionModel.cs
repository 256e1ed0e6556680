using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Clip;

/// <summary>
/// transformers CLIPVisionModelWithProjection: <c>vision_model.*</c> and <c>visual_projection.weight</c> (no bias);
/// <see cref="Embed"/> returns image_embeds, the vector aesthetic gradients average over a user's liked images.
/// </summary>
public sealed class ClipVisionModel(WeightScope root, ClipVisionConfig config) : IDisposable
{
    private readonly ClipVisionTransformer _visionModel = new(root["vision_model"], config);
    private readonly Tensor _visualProjection = root["visual_projection"].Tensor("weight", config.ProjectionDim, config.HiddenSize);
    private readonly IBackend _backend = root.Backend;

    public ClipVisionConfig Config => config;

    public static ClipVisionModel Load(string folder, IBackend backend, DType dtype)
    {
        ClipVisionConfig config = ClipVisionConfig.Load(Path.Combine(folder, "config.json"));
        using WeightStore store = CheckpointFiles.Open(folder, "model");
        return new ClipVisionModel(new CheckpointWeights(store, backend, dtype).Root, config);
    }

    /// <summary>Preprocessed pixels NHWC (B, S, S, 3) in the model's dtype → image_embeds (B, projection_dim).</summary>
    public Tensor Embed(Tensor pixels, CancellationToken cancellationToken = default)
    {
        int size = config.ImageSize;
        if (pixels.Shape.Rank != 4 || pixels.Shape[1] != size || pixels.Shape[2] != size || pixels.Shape[3] != config.NumChannels)
        {
            throw new ArgumentException($"CLIP vision: pixels must be (B, {size}, {size}, {config.NumChannels}), got {pixels.Shape}", nameof(pixels));
        }

        (Tensor last, Tensor pooled) = _visionModel.Forward(_backend, pixels, cancellationToken);
        last.Dispose();
        using (pooled)
        {
            return _backend.Linear(pooled, _visualProjection, null);
        }
    }

    public void Dispose()
    {
        _visionModel.Dispose();
        _visualProjection.Dispose();
    }
}

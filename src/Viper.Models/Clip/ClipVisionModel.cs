using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Clip;

/// <summary>
/// transformers CLIPVisionModelWithProjection: <c>vision_model.*</c> and <c>visual_projection.weight</c> (no bias);
/// <see cref="Embed"/> returns image_embeds, the vector aesthetic gradients average over a user's liked images.
/// </summary>
public sealed class ClipVisionModel : Module
{
    private readonly ClipVisionTransformer _visionModel;
    private readonly Linear _visualProjection;
    private readonly IBackend _backend;

    public ClipVisionModel(WeightScope root, ClipVisionConfig config)
    {
        _visionModel = Own(new ClipVisionTransformer(root["vision_model"], config));
        _visualProjection = Own(new Linear(root["visual_projection"], config.HiddenSize, config.ProjectionDim, bias: false));
        _backend = root.Backend;
        Config = config;
        Parameters = Own(root.Source.Parameters);
    }

    public ClipVisionConfig Config { get; }

    /// <summary>Every parameter loaded for this model, by its checkpoint name.</summary>
    public ParameterSet Parameters { get; }

    public static ClipVisionModel Load(string folder, IBackend backend, DType dtype)
    {
        ClipVisionConfig config = ClipVisionConfig.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "model", null, store => new ClipVisionModel(new CheckpointWeights(store, backend, dtype).Root, config));
    }

    /// <summary>Preprocessed pixels NHWC (B, S, S, 3) in the model's dtype → image_embeds (B, projection_dim).</summary>
    public Tensor Embed(Tensor pixels, CancellationToken cancellationToken = default)
    {
        int size = Config.ImageSize;
        if (pixels.Shape.Rank != 4 || pixels.Shape[1] != size || pixels.Shape[2] != size || pixels.Shape[3] != Config.NumChannels)
        {
            throw new ArgumentException($"CLIP vision: pixels must be (B, {size}, {size}, {Config.NumChannels}), got {pixels.Shape}", nameof(pixels));
        }

        (Tensor last, Tensor pooled) = _visionModel.Forward(_backend, pixels, cancellationToken);
        last.Dispose();
        using (pooled)
        {
            return _visualProjection.Forward(_backend, pooled);
        }
    }
}

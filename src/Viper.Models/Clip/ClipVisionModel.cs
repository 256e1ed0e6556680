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
        DType = root.DType;
        Config = config;
        Parameters = Own(root.Source.Parameters);
    }

    public ClipVisionConfig Config { get; }

    /// <summary>The backend the model runs on.</summary>
    public IBackend Backend => _backend;

    /// <summary>The dtype the model computes in (pixels go in as this dtype).</summary>
    public DType DType { get; }

    /// <summary>Every parameter loaded for this model, by its checkpoint name.</summary>
    public ParameterSet Parameters { get; }

    public static ClipVisionModel Load(string folder, IBackend backend, DType dtype)
    {
        ClipVisionConfig config = ClipVisionConfig.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "model", null, store => new ClipVisionModel(new CheckpointWeights(store, backend, dtype).Root, config));
    }

    /// <summary>
    /// Preprocessed pixels NHWC (B, S, S, 3) in the model's dtype → last_hidden_state, the hidden states
    /// <paramref name="keep"/> names (−2 is what IP-Adapter-style users take), the pooled output and image_embeds.
    /// CLIP's learned position embeddings fix S to the config's image_size (transformers 4.42 does not interpolate them).
    /// </summary>
    public ClipVisionOutput Forward(Tensor pixels, HiddenStates? keep = null, CancellationToken cancellationToken = default)
    {
        int size = Config.ImageSize;
        if (pixels.Shape.Rank != 4 || pixels.Shape[1] != size || pixels.Shape[2] != size || pixels.Shape[3] != Config.NumChannels)
        {
            throw new ArgumentException($"CLIP vision: pixels must be (B, {size}, {size}, {Config.NumChannels}) as image_size in config.json says, got {pixels.Shape}",
                nameof(pixels));
        }

        (EncoderStates states, Tensor pooled) = _visionModel.Forward(_backend, pixels, keep ?? HiddenStates.None, cancellationToken);
        try
        {
            return new ClipVisionOutput(states, pooled, _visualProjection.Forward(_backend, pooled));
        }
        catch
        {
            states.Dispose();
            pooled.Dispose();
            throw;
        }
    }

    /// <summary>image_embeds (B, projection_dim): the vector aesthetic gradients average over a user's liked images.</summary>
    public Tensor Embed(Tensor pixels, CancellationToken cancellationToken = default)
    {
        using ClipVisionOutput output = Forward(pixels, HiddenStates.None, cancellationToken);
        return _backend.Clone(output.ImageEmbeds);
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Clip;

/// <summary>
/// transformers CLIPTextModel / CLIPTextModelWithProjection as a checkpoint's <c>text_encoder</c> folder holds it:
/// <c>text_model.*</c>, plus <c>text_projection.weight</c> (no bias) when <paramref name="withProjection"/>
/// (SDXL's <c>text_encoder_2</c>, CLIP's text tower for similarity).
/// </summary>
public sealed class ClipTextModel : Module
{
    private readonly ClipTextTransformer _textModel;
    private readonly Linear? _textProjection;
    private readonly IBackend _backend;

    public ClipTextModel(WeightScope root, ClipTextConfig config, bool withProjection)
    {
        _textModel = Own(new ClipTextTransformer(root["text_model"], config));
        _textProjection = withProjection ? Own(new Linear(root["text_projection"], config.HiddenSize, config.ProjectionDim, bias: false)) : null;
        _backend = root.Backend;
        Config = config;
        Parameters = Own(root.Source.Parameters);
    }

    public ClipTextConfig Config { get; }

    /// <summary>Every parameter loaded for this model, by its checkpoint name.</summary>
    public ParameterSet Parameters { get; }

    public bool HasProjection => _textProjection is not null;

    /// <summary>The <c>text_model</c> tower, for training it (aesthetic gradients).</summary>
    public ClipTextTransformer TextModel => _textModel;

    /// <summary><c>text_projection</c> (hidden → projection_dim, no bias), when the model has one.</summary>
    public Linear? TextProjection => _textProjection;

    /// <summary>The backend the model's parameters live on.</summary>
    public IBackend Backend => _backend;

    /// <summary>
    /// Loads a folder with config.json and model[.variant].safetensors (or shards). The projection is loaded when the config
    /// names CLIPTextModelWithProjection or the checkpoint holds <c>text_projection.weight</c>.
    /// </summary>
    /// <param name="linearWeights">The format the linear layers' weights are kept in (null: <paramref name="dtype"/>).</param>
    public static ClipTextModel Load(string folder, IBackend backend, DType dtype, string? variant = null, DType? linearWeights = null)
    {
        ClipTextConfig config = ClipTextConfig.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "model", variant,
            store =>
            {
                MemoryFit.Check(store, backend, dtype, linearWeights);
                return new ClipTextModel(new CheckpointWeights(store, backend, dtype, linearWeights: linearWeights).Root, config, store.Contains("text_projection.weight"));
            });
    }

    /// <summary>
    /// Encodes rows of token ids (the tokenizer's padded rows) → the states transformers returns; of the per-layer
    /// hidden states only those <paramref name="keep"/> names stay alive (none by default).
    /// </summary>
    public ClipTextOutput Encode(IReadOnlyList<int[]> ids, HiddenStates? keep = null, CancellationToken cancellationToken = default)
    {
        ClipTextOutput output = _textModel.Forward(_backend, ids, keep ?? HiddenStates.None, cancellationToken);
        if (_textProjection is null)
        {
            return output;
        }

        Tensor embeds = _textProjection.Forward(_backend, output.Pooled);
        return new ClipTextOutput(output.LastHiddenState, output.HiddenStates, output.Pooled, embeds);
    }
}

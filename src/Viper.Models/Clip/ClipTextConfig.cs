using Viper.Weights;
namespace Viper.Models.Clip;

/// <summary>
/// transformers' CLIPTextConfig (config.json of a <c>text_encoder</c> folder, or <c>text_config</c> of a CLIPModel),
/// defaults as transformers'. Presets name the encoders Stable Diffusion uses.
/// </summary>
public sealed record ClipTextConfig
{
    public int VocabSize { get; init; } = 49408;

    public int HiddenSize { get; init; } = 512;

    public int IntermediateSize { get; init; } = 2048;

    public int ProjectionDim { get; init; } = 512;

    public int NumHiddenLayers { get; init; } = 12;

    public int NumAttentionHeads { get; init; } = 8;

    public int MaxPositionEmbeddings { get; init; } = 77;

    public string HiddenAct { get; init; } = "quick_gelu";

    public float LayerNormEps { get; init; } = 1e-5f;

    /// <summary>2 selects transformers' legacy pooling (argmax of the ids); any other value, the first position holding it.</summary>
    public int EosTokenId { get; init; } = 49407;

    /// <summary>SD1.x <c>text_encoder</c> and SDXL's first: OpenAI CLIP ViT-L/14's text tower.</summary>
    public static ClipTextConfig ClipVitL14 { get; } = new()
    {
        HiddenSize = 768, IntermediateSize = 3072, ProjectionDim = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, EosTokenId = 2,
    };

    /// <summary>SD2.x <c>text_encoder</c>: OpenCLIP ViT-H/14's text tower as diffusers ships it, 23 of its 24 layers (the penultimate).</summary>
    public static ClipTextConfig OpenClipVitH14 { get; } = new()
    {
        HiddenSize = 1024, IntermediateSize = 4096, ProjectionDim = 512, NumHiddenLayers = 23, NumAttentionHeads = 16,
        HiddenAct = "gelu", EosTokenId = 2,
    };

    /// <summary>SDXL <c>text_encoder_2</c>: OpenCLIP ViT-bigG/14's text tower with its projection.</summary>
    public static ClipTextConfig OpenClipBigG14 { get; } = new()
    {
        HiddenSize = 1280, IntermediateSize = 5120, ProjectionDim = 1280, NumHiddenLayers = 32, NumAttentionHeads = 20,
        HiddenAct = "gelu", EosTokenId = 2,
    };

    public static ClipTextConfig Load(string configJson) => ConfigJson.Read<ClipTextConfig>(configJson, "text_config").Validated(configJson);

    public ClipTextConfig Validated(string source)
    {
        ConfigJson.Require(VocabSize > 0 && HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers > 0 && MaxPositionEmbeddings > 0,
            source, "vocab_size, hidden_size, intermediate_size, num_hidden_layers and max_position_embeddings must be positive");
        ConfigJson.Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0, source,
            $"hidden_size {HiddenSize} is not divisible into {NumAttentionHeads} attention heads");
        ClipActivations.Parse(HiddenAct, source);
        return this;
    }
}

using Viper.Weights;
namespace Viper.Models.Clip;

/// <summary>transformers' CLIPVisionConfig (a vision checkpoint's config.json, or <c>vision_config</c> of a CLIPModel).</summary>
public sealed record ClipVisionConfig
{
    public int HiddenSize { get; init; } = 768;

    public int IntermediateSize { get; init; } = 3072;

    public int ProjectionDim { get; init; } = 512;

    public int NumHiddenLayers { get; init; } = 12;

    public int NumAttentionHeads { get; init; } = 12;

    public int NumChannels { get; init; } = 3;

    public int ImageSize { get; init; } = 224;

    public int PatchSize { get; init; } = 32;

    public string HiddenAct { get; init; } = "quick_gelu";

    public float LayerNormEps { get; init; } = 1e-5f;

    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>openai/clip-vit-large-patch14: ViT-L/14 at 224 (aesthetic gradients' image encoder).</summary>
    public static ClipVisionConfig ClipVitL14 { get; } = new()
    {
        HiddenSize = 1024, IntermediateSize = 4096, ProjectionDim = 768, NumHiddenLayers = 24, NumAttentionHeads = 16, PatchSize = 14,
    };

    public static ClipVisionConfig Load(string configJson) => ConfigJson.Read<ClipVisionConfig>(configJson, "vision_config").Validated(configJson);

    public ClipVisionConfig Validated(string source)
    {
        ConfigJson.Require(HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers > 0 && NumChannels > 0, source,
            "hidden_size, intermediate_size, num_hidden_layers and num_channels must be positive");
        ConfigJson.Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0, source,
            $"hidden_size {HiddenSize} is not divisible into {NumAttentionHeads} attention heads");
        ConfigJson.Require(PatchSize > 0 && ImageSize % PatchSize == 0, source, $"image_size {ImageSize} is not a multiple of patch_size {PatchSize}");
        ClipActivations.Parse(HiddenAct, source);
        return this;
    }
}

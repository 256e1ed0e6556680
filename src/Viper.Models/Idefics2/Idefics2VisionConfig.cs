using Viper.Models.Clip;
using Viper.Weights;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers' Idefics2VisionConfig (<c>vision_config</c>): a SigLIP tower that takes images of any size up to
/// <see cref="ImageSize"/>, defaults as transformers' (idefics2-8b sets 1152 / 4304 / 27 / 16 / 980 / 14).
/// </summary>
public sealed record Idefics2VisionConfig
{
    public int HiddenSize { get; init; } = 768;

    public int IntermediateSize { get; init; } = 3072;

    public int NumHiddenLayers { get; init; } = 12;

    public int NumAttentionHeads { get; init; } = 12;

    public int NumChannels { get; init; } = 3;

    public int ImageSize { get; init; } = 224;

    public int PatchSize { get; init; } = 32;

    public string HiddenAct { get; init; } = "gelu_pytorch_tanh";

    public float LayerNormEps { get; init; } = 1e-6f;

    /// <summary>Position embeddings cover a square of this many patches per side; smaller images use a bucketed subset.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    public static Idefics2VisionConfig Idefics2Vision8B { get; } = new()
    {
        HiddenSize = 1152, IntermediateSize = 4304, NumHiddenLayers = 27, NumAttentionHeads = 16, ImageSize = 980, PatchSize = 14,
    };

    public Idefics2VisionConfig Validated(string source)
    {
        ConfigJson.Require(HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers > 0 && NumChannels > 0, source,
            "vision_config: hidden_size, intermediate_size, num_hidden_layers and num_channels must be positive");
        ConfigJson.Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0, source,
            $"vision_config: hidden_size {HiddenSize} is not divisible into {NumAttentionHeads} attention heads");
        ConfigJson.Require(PatchSize > 0 && ImageSize >= PatchSize, source, $"vision_config: image_size {ImageSize} holds no patch of {PatchSize}");
        ClipActivations.Parse(HiddenAct, source);
        return this;
    }
}

using Viper.Weights;

namespace Viper.Models.Mistral;

/// <summary>
/// transformers' MistralConfig (a Mistral folder's config.json, or <c>text_config</c> of an Idefics2 config), defaults as
/// transformers'. <see cref="HeadDim"/> is hidden / heads, as modeling_mistral.py (4.42) computes it.
/// </summary>
public sealed record MistralConfig
{
    public int VocabSize { get; init; } = 32000;

    public int HiddenSize { get; init; } = 4096;

    public int IntermediateSize { get; init; } = 14336;

    public int NumHiddenLayers { get; init; } = 32;

    public int NumAttentionHeads { get; init; } = 32;

    public int NumKeyValueHeads { get; init; } = 8;

    public string HiddenAct { get; init; } = "silu";

    public int MaxPositionEmbeddings { get; init; } = 4096 * 32;

    public float RmsNormEps { get; init; } = 1e-6f;

    public float RopeTheta { get; init; } = 10000f;

    /// <summary>Keys further back than this many positions are not attended to; null: no window.</summary>
    public int? SlidingWindow { get; init; } = 4096;

    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Mistral-7B-v0.1's decoder as IDEFICS2-8b carries it (three added tokens, eps 1e-5).</summary>
    public static MistralConfig Idefics2Text8B { get; } = new()
    {
        VocabSize = 32003, MaxPositionEmbeddings = 32768, RmsNormEps = 1e-5f,
    };

    public static MistralConfig Load(string configJson) => ConfigJson.Read<MistralConfig>(configJson, "text_config").Validated(configJson);

    public MistralConfig Validated(string source)
    {
        ConfigJson.Require(VocabSize > 0 && HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers > 0 && MaxPositionEmbeddings > 0,
            source, "vocab_size, hidden_size, intermediate_size, num_hidden_layers and max_position_embeddings must be positive");
        ConfigJson.Require(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0 && HeadDim % 2 == 0, source,
            $"hidden_size {HiddenSize} is not divisible into {NumAttentionHeads} attention heads of an even size");
        ConfigJson.Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0, source,
            $"{NumAttentionHeads} attention heads cannot share {NumKeyValueHeads} key/value heads");
        ConfigJson.Require(HiddenAct == "silu", source, $"hidden_act '{HiddenAct}' is not supported (Mistral uses silu)");
        ConfigJson.Require(SlidingWindow is null or > 0, source, "sliding_window must be positive or null");
        return this;
    }
}

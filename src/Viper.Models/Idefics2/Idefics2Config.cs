using System.Text.Json;
using Viper.Models.Mistral;
using Viper.Weights;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers' Idefics2Config (config.json with <c>model_type</c> idefics2): the vision tower, the perceiver connector
/// and the Mistral text model, and the id of the <c>&lt;image&gt;</c> token whose embeddings image states replace.
/// </summary>
public sealed record Idefics2Config(Idefics2VisionConfig Vision, Idefics2PerceiverConfig Perceiver, MistralConfig Text, int ImageTokenId)
{
    /// <summary>HuggingFaceM4/idefics2-8b.</summary>
    public static Idefics2Config Default8B { get; } = new(
        Idefics2VisionConfig.Idefics2Vision8B, new Idefics2PerceiverConfig(), MistralConfig.Idefics2Text8B, ImageTokenId: 32001);

    /// <summary>The image states per image (the perceiver's latents).</summary>
    public int ImageSequenceLength => Perceiver.ResamplerNLatents;

    public static Idefics2Config Load(string configJson)
    {
        var top = ConfigJson.Read<TopLevel>(configJson);
        ConfigJson.Require(top.ModelType == "idefics2", configJson, $"model_type is '{top.ModelType}', not idefics2");
        ConfigJson.Require(top.VisionConfig is not null && top.PerceiverConfig is not null && top.TextConfig is not null, configJson,
            "vision_config, perceiver_config and text_config must all be present");
        Idefics2VisionConfig vision = top.VisionConfig!.Value.Deserialize<Idefics2VisionConfig>(ConfigJson.SerializerOptions)!.Validated(configJson);
        Idefics2PerceiverConfig perceiver = top.PerceiverConfig!.Value.Deserialize<Idefics2PerceiverConfig>(ConfigJson.SerializerOptions)!.Validated(configJson);
        MistralConfig text = top.TextConfig!.Value.Deserialize<MistralConfig>(ConfigJson.SerializerOptions)!.Validated(configJson);
        ConfigJson.Require(top.ImageTokenId >= 0 && top.ImageTokenId < text.VocabSize, configJson,
            $"image_token_id {top.ImageTokenId} is outside the vocabulary of {text.VocabSize}");
        return new Idefics2Config(vision, perceiver, text, top.ImageTokenId);
    }

    private sealed record TopLevel
    {
        public string? ModelType { get; init; }

        public int ImageTokenId { get; init; } = 32001;

        public JsonElement? VisionConfig { get; init; }

        public JsonElement? PerceiverConfig { get; init; }

        public JsonElement? TextConfig { get; init; }
    }
}

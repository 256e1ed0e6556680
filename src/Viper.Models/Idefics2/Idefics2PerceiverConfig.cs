using Viper.Weights;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers' Idefics2PerceiverConfig (<c>perceiver_config</c>): <see cref="ResamplerNLatents"/> learned latents
/// resample each image's patch states in <see cref="ResamplerDepth"/> layers. Its width and its RMS norms' eps are the
/// text model's (transformers 4.42's Idefics2PerceiverLayer reads text_config.hidden_size and text_config.rms_norm_eps).
/// </summary>
public sealed record Idefics2PerceiverConfig
{
    public string HiddenAct { get; init; } = "silu";

    public int ResamplerNLatents { get; init; } = 64;

    public int ResamplerDepth { get; init; } = 3;

    public int ResamplerNHeads { get; init; } = 16;

    public int ResamplerHeadDim { get; init; } = 96;

    public int NumKeyValueHeads { get; init; } = 4;

    public Idefics2PerceiverConfig Validated(string source)
    {
        ConfigJson.Require(ResamplerNLatents > 0 && ResamplerDepth > 0 && ResamplerHeadDim > 0, source,
            "perceiver_config: resampler_n_latents, resampler_depth and resampler_head_dim must be positive");
        ConfigJson.Require(ResamplerNHeads > 0 && NumKeyValueHeads > 0 && ResamplerNHeads % NumKeyValueHeads == 0, source,
            $"perceiver_config: {ResamplerNHeads} heads cannot share {NumKeyValueHeads} key/value heads");
        ConfigJson.Require(HiddenAct == "silu", source, $"perceiver_config: hidden_act '{HiddenAct}' is not supported (silu)");
        return this;
    }
}

using Viper.Weights;

namespace Viper.Models.Vae;

/// <summary>diffusers' AutoencoderKL config (vae/config.json).</summary>
public sealed record AutoencoderKLConfig
{
    public int InChannels { get; init; } = 3;

    public int OutChannels { get; init; } = 3;

    public int LatentChannels { get; init; } = 4;

    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];

    public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"];

    public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"];

    public int LayersPerBlock { get; init; } = 2;

    public int NormNumGroups { get; init; } = 32;

    public string ActFn { get; init; } = "silu";

    public double ScalingFactor { get; init; } = 0.18215;

    public double? ShiftFactor { get; init; }

    /// <summary>Run this VAE in f32 whatever the pipeline's dtype (SDXL's VAE overflows in f16).</summary>
    public bool ForceUpcast { get; init; } = true;

    public bool UseQuantConv { get; init; } = true;

    public bool UsePostQuantConv { get; init; } = true;

    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>SD 1.x/2.x's VAE (scaling 0.18215).</summary>
    public static AutoencoderKLConfig StableDiffusion { get; } = new();

    /// <summary>SDXL's VAE: the same layout, scaling 0.13025.</summary>
    public static AutoencoderKLConfig StableDiffusionXl { get; } = new() { ScalingFactor = 0.13025 };

    /// <summary>The spatial factor between pixels and latents.</summary>
    public int DownFactor => 1 << (BlockOutChannels.Length - 1);

    public static AutoencoderKLConfig Load(string path) => ConfigJson.Read<AutoencoderKLConfig>(path).Validated(path);

    public AutoencoderKLConfig Validated(string source)
    {
        int levels = BlockOutChannels.Length;
        ConfigJson.Require(levels > 0 && DownBlockTypes.Length == levels && UpBlockTypes.Length == levels, source,
            "block_out_channels, down_block_types and up_block_types must have the same length");
        ConfigJson.Require(DownBlockTypes.All(t => t == "DownEncoderBlock2D") && UpBlockTypes.All(t => t == "UpDecoderBlock2D"), source,
            "only DownEncoderBlock2D / UpDecoderBlock2D blocks are supported");
        ConfigJson.Require(ActFn == "silu" && MidBlockAddAttention, source, "only act_fn silu with mid-block attention is supported");
        ConfigJson.Require(BlockOutChannels.All(c => c % NormNumGroups == 0), source, $"channels must divide into {NormNumGroups} groups");
        ConfigJson.Require(ScalingFactor > 0 && double.IsFinite(ScalingFactor), source, "scaling_factor must be positive");
        ConfigJson.Require(ShiftFactor is null, source, "shift_factor is not supported");
        return this;
    }
}

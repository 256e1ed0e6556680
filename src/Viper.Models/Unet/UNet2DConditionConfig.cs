using System.Text.Json.Serialization;
using Viper.Weights;

namespace Viper.Models.Unet;

/// <summary>
/// diffusers' UNet2DConditionModel config (unet/config.json) for the layouts the engine builds: SD1.x/2.x and SDXL base and
/// refiner. Per-block values are expanded with <see cref="PerBlock"/>. As in diffusers, <c>num_attention_heads</c>
/// defaults to <c>attention_head_dim</c>, which SD checkpoints use to mean the number of heads.
/// </summary>
public sealed record UNet2DConditionConfig
{
    public int InChannels { get; init; } = 4;

    public int OutChannels { get; init; } = 4;

    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];

    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];

    public string[] UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];

    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";

    public int LayersPerBlock { get; init; } = 2;

    [JsonConverter(typeof(PerBlockConverter))]
    public int[] AttentionHeadDim { get; init; } = [8];

    [JsonConverter(typeof(PerBlockConverter))]
    public int[]? NumAttentionHeads { get; init; }

    [JsonConverter(typeof(PerBlockConverter))]
    public int[] TransformerLayersPerBlock { get; init; } = [1];

    public int CrossAttentionDim { get; init; } = 1280;

    public bool UseLinearProjection { get; init; }

    public int NormNumGroups { get; init; } = 32;

    public float NormEps { get; init; } = 1e-5f;

    public bool FlipSinToCos { get; init; } = true;

    public int FreqShift { get; init; }

    public string? AdditionEmbedType { get; init; }

    public int? AdditionTimeEmbedDim { get; init; }

    public int? ProjectionClassEmbeddingsInputDim { get; init; }

    public int SampleSize { get; init; } = 64;

    public string ActFn { get; init; } = "silu";

    public bool UpcastAttention { get; init; }

    public bool CenterInputSample { get; init; }

    public string? ClassEmbedType { get; init; }

    public string ResnetTimeScaleShift { get; init; } = "default";

    public string? EncoderHidDimType { get; init; }

    public int? TimeCondProjDim { get; init; }

    public bool DualCrossAttention { get; init; }

    public bool OnlyCrossAttention { get; init; }

    public int ConvInKernel { get; init; } = 3;

    public int ConvOutKernel { get; init; } = 3;

    public string TimeEmbeddingType { get; init; } = "positional";

    public string AttentionType { get; init; } = "default";

    public double? MidBlockScaleFactor { get; init; } = 1.0;

    public double? ResnetOutScaleFactor { get; init; } = 1.0;

    [JsonIgnore]
    public int TimeEmbedDim => BlockOutChannels[0] * 4;

    /// <summary>SD 1.x (runwayml/stable-diffusion-v1-5 unet).</summary>
    public static UNet2DConditionConfig StableDiffusion15 { get; } = new() { CrossAttentionDim = 768, AttentionHeadDim = [8] };

    /// <summary>SD 2.x (stabilityai/stable-diffusion-2-1 unet): head dim 64, linear projections, OpenCLIP-H context.</summary>
    public static UNet2DConditionConfig StableDiffusion21 { get; } = new()
    {
        CrossAttentionDim = 1024, AttentionHeadDim = [5, 10, 20, 20], UseLinearProjection = true, UpcastAttention = true, SampleSize = 96,
    };

    /// <summary>SDXL base 1.0: three levels, 1/2/10 transformer layers, text_time added conditioning.</summary>
    public static UNet2DConditionConfig StableDiffusionXlBase { get; } = new()
    {
        BlockOutChannels = [320, 640, 1280], DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        UpBlockTypes = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], AttentionHeadDim = [5, 10, 20],
        TransformerLayersPerBlock = [1, 2, 10], CrossAttentionDim = 2048, UseLinearProjection = true, AdditionEmbedType = "text_time",
        AdditionTimeEmbedDim = 256, ProjectionClassEmbeddingsInputDim = 2816, SampleSize = 128,
    };

    /// <summary>SDXL refiner 1.0: four levels of 384…1536 channels, 4 transformer layers, aesthetic-score time ids.</summary>
    public static UNet2DConditionConfig StableDiffusionXlRefiner { get; } = new()
    {
        BlockOutChannels = [384, 768, 1536, 1536],
        DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        UpBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], AttentionHeadDim = [6, 12, 24, 24],
        TransformerLayersPerBlock = [4], CrossAttentionDim = 1280, UseLinearProjection = true, AdditionEmbedType = "text_time",
        AdditionTimeEmbedDim = 256, ProjectionClassEmbeddingsInputDim = 2560, SampleSize = 128,
    };

    public static UNet2DConditionConfig Load(string path) => ConfigJson.Read<UNet2DConditionConfig>(path).Validated(path);

    /// <summary>A per-block list value for block <paramref name="block"/> (a single value applies to every block).</summary>
    public static int PerBlock(int[] values, int block) => values.Length == 1 ? values[0] : values[block];

    /// <summary>Attention heads of block <paramref name="block"/> (diffusers' num_attention_heads or attention_head_dim).</summary>
    public int HeadsOf(int block) => PerBlock(NumAttentionHeads ?? AttentionHeadDim, block);

    public UNet2DConditionConfig Validated(string source)
    {
        int levels = BlockOutChannels.Length;
        ConfigJson.Require(levels > 0 && DownBlockTypes.Length == levels && UpBlockTypes.Length == levels, source,
            "block_out_channels, down_block_types and up_block_types must have the same length");
        foreach (int[] perBlock in new[] { AttentionHeadDim, TransformerLayersPerBlock, NumAttentionHeads ?? [1] })
        {
            ConfigJson.Require(perBlock.Length == 1 || perBlock.Length == levels, source, "per-block lists must have one entry per block");
        }

        ConfigJson.Require(DownBlockTypes.All(t => t is "DownBlock2D" or "CrossAttnDownBlock2D"), source,
            $"down_block_types [{string.Join(", ", DownBlockTypes)}]: only DownBlock2D and CrossAttnDownBlock2D are supported");
        ConfigJson.Require(UpBlockTypes.All(t => t is "UpBlock2D" or "CrossAttnUpBlock2D"), source,
            $"up_block_types [{string.Join(", ", UpBlockTypes)}]: only UpBlock2D and CrossAttnUpBlock2D are supported");
        ConfigJson.Require(MidBlockType == "UNetMidBlock2DCrossAttn", source, $"mid_block_type '{MidBlockType}' is not supported");
        ConfigJson.Require(ActFn == "silu" && TimeEmbeddingType == "positional" && AttentionType == "default", source,
            "only act_fn silu, positional time embeddings and default attention are supported");
        ConfigJson.Require(ClassEmbedType is null && EncoderHidDimType is null && TimeCondProjDim is null && !DualCrossAttention &&
            !OnlyCrossAttention && ResnetTimeScaleShift == "default" && !CenterInputSample, source,
            "class embeddings, encoder_hid_dim, time_cond_proj_dim, dual/only cross-attention, scale_shift and center_input_sample are not supported");
        ConfigJson.Require(ConvInKernel % 2 == 1 && ConvOutKernel % 2 == 1, source, "conv_in/conv_out kernels must be odd");
        ConfigJson.Require(MidBlockScaleFactor is null or 1.0 && ResnetOutScaleFactor is null or 1.0, source,
            "output scale factors other than 1 are not supported");
        ConfigJson.Require(AdditionEmbedType is null or "text_time", source, $"addition_embed_type '{AdditionEmbedType}' is not supported");
        if (AdditionEmbedType == "text_time")
        {
            // The split of projection_class_embeddings_input_dim into pooled text width and time ids is the pipeline's
            // (text_encoder_2's projection, 6 or 5 ids): the UNet checks the sum when it is called.
            ConfigJson.Require(AdditionTimeEmbedDim > 0 && ProjectionClassEmbeddingsInputDim > 0, source,
                "text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim");
        }

        for (int i = 0; i < levels; i++)
        {
            ConfigJson.Require(BlockOutChannels[i] % NormNumGroups == 0 && BlockOutChannels[i] % HeadsOf(i) == 0, source,
                $"block {i}: {BlockOutChannels[i]} channels must divide into {NormNumGroups} groups and {HeadsOf(i)} heads");
        }

        return this;
    }
}

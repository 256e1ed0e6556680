using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Viper.Pipelines;

/// <summary>
/// Writes a component config as diffusers 0.29.2 saves it: only the class's registered <c>__init__</c> arguments (so
/// diffusers reads it without "config attributes … were passed … but are not expected" warnings), keys sorted, plus
/// <c>_class_name</c> and <c>_diffusers_version</c>. The engine's config records carry the union of what the engine
/// reads; this drops what the class does not take.
/// </summary>
internal static class DiffusersConfigFile
{
    public const string Version = "0.29.2";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly string[] BetaKeys = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas"];
    private static readonly string[] ThresholdKeys = ["thresholding", "dynamic_thresholding_ratio", "sample_max_value"];

    // From diffusers 0.29.2's class signatures (the UNet and VAE lists equal the keys of ../shared/refs/sd15's configs).
    private static readonly Dictionary<string, string[]> Keys = new()
    {
        ["UNet2DConditionModel"] =
        [
            "act_fn", "addition_embed_type", "addition_embed_type_num_heads", "addition_time_embed_dim", "attention_head_dim", "attention_type",
            "block_out_channels", "center_input_sample", "class_embed_type", "class_embeddings_concat", "conv_in_kernel", "conv_out_kernel",
            "cross_attention_dim", "cross_attention_norm", "down_block_types", "downsample_padding", "dropout", "dual_cross_attention",
            "encoder_hid_dim", "encoder_hid_dim_type", "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
            "mid_block_only_cross_attention", "mid_block_scale_factor", "mid_block_type", "norm_eps", "norm_num_groups", "num_attention_heads",
            "num_class_embeds", "only_cross_attention", "out_channels", "projection_class_embeddings_input_dim", "resnet_out_scale_factor",
            "resnet_skip_time_act", "resnet_time_scale_shift", "reverse_transformer_layers_per_block", "sample_size", "time_cond_proj_dim",
            "time_embedding_act_fn", "time_embedding_dim", "time_embedding_type", "timestep_post_act", "transformer_layers_per_block",
            "up_block_types", "upcast_attention", "use_linear_projection",
        ],
        ["AutoencoderKL"] =
        [
            "act_fn", "block_out_channels", "down_block_types", "force_upcast", "in_channels", "latent_channels", "latents_mean", "latents_std",
            "layers_per_block", "norm_num_groups", "out_channels", "sample_size", "scaling_factor", "shift_factor", "up_block_types",
            "use_post_quant_conv", "use_quant_conv",
        ],
        ["EulerDiscreteScheduler"] =
        [
            .. BetaKeys, "prediction_type", "interpolation_type", "use_karras_sigmas", "sigma_min", "sigma_max", "timestep_spacing", "timestep_type",
            "steps_offset", "rescale_betas_zero_snr", "final_sigmas_type",
        ],
        ["EulerAncestralDiscreteScheduler"] = [.. BetaKeys, "prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"],
        ["DDIMScheduler"] =
        [
            .. BetaKeys, "clip_sample", "set_alpha_to_one", "steps_offset", "prediction_type", .. ThresholdKeys, "clip_sample_range",
            "timestep_spacing", "rescale_betas_zero_snr",
        ],
        ["DDPMScheduler"] =
        [
            .. BetaKeys, "variance_type", "clip_sample", "prediction_type", .. ThresholdKeys, "clip_sample_range", "timestep_spacing", "steps_offset",
            "rescale_betas_zero_snr",
        ],
        ["DPMSolverMultistepScheduler"] =
        [
            .. BetaKeys, "solver_order", "prediction_type", .. ThresholdKeys, "algorithm_type", "solver_type", "lower_order_final", "euler_at_final",
            "use_karras_sigmas", "use_lu_lambdas", "final_sigmas_type", "lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset",
            "rescale_betas_zero_snr",
        ],
        ["PNDMScheduler"] = [.. BetaKeys, "skip_prk_steps", "set_alpha_to_one", "prediction_type", "timestep_spacing", "steps_offset"],
    };

    /// <summary>The keys a class's config.json may hold besides <c>_class_name</c>/<c>_diffusers_version</c>.</summary>
    private static IReadOnlyCollection<string> KeysOf(string className) =>
        Keys.TryGetValue(className, out string[]? keys) ? keys : throw new ArgumentException($"no diffusers key list for {className}");

    public static void Write<TConfig>(string path, TConfig config, string className)
    {
        JsonObject all = JsonSerializer.SerializeToNode(config, Json)!.AsObject();
        var written = new JsonObject { ["_class_name"] = className, ["_diffusers_version"] = Version };
        foreach (string key in KeysOf(className).Order(StringComparer.Ordinal))
        {
            if (all.TryGetPropertyValue(key, out JsonNode? value))
            {
                written[key] = value?.DeepClone();
            }
        }

        File.WriteAllText(path, written.ToJsonString(Json));
    }
}

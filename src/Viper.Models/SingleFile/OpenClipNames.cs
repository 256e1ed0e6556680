using System.Globalization;

namespace Viper.Models.SingleFile;

/// <summary>
/// A transformers CLIPTextModel(WithProjection) parameter → where OpenCLIP's text tower (SD2's <c>cond_stage_model.model.</c>,
/// SDXL's bigG <c>conditioner.embedders.1.model.</c>) keeps it, as diffusers 0.29.2's <c>convert_open_clip_checkpoint</c>
/// reads it: q/k/v are row thirds of the fused <c>attn.in_proj_weight/bias</c>, <c>text_projection</c> is stored
/// transposed (width, embed) without ".weight", <c>ln_1/ln_2/mlp.c_fc/mlp.c_proj/ln_final</c> are the norms and MLP.
/// </summary>
public static class OpenClipNames
{
    public static TensorRecipe ToOpenClip(string name, string prefix, int hiddenSize)
    {
        switch (name)
        {
            case "text_model.embeddings.position_embedding.weight": return new(prefix + "positional_embedding");
            case "text_model.embeddings.token_embedding.weight": return new(prefix + "token_embedding.weight");
            case "text_projection.weight": return new(prefix + "text_projection") { Transposed = true };
        }

        if (name.StartsWith("text_model.final_layer_norm.", StringComparison.Ordinal))
        {
            return new(prefix + "ln_final." + name["text_model.final_layer_norm.".Length..]);
        }

        const string Layers = "text_model.encoder.layers.";
        if (!name.StartsWith(Layers, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{name}' has no counterpart in the OpenCLIP text tower");
        }

        string[] p = name[Layers.Length..].Split('.');
        int layer = int.Parse(p[0], NumberStyles.None, CultureInfo.InvariantCulture);
        string block = $"{prefix}transformer.resblocks.{layer}.";
        string kind = p[^1]; // weight | bias
        return (p[1], p[2]) switch
        {
            ("self_attn", "q_proj") => new(block + "attn.in_proj_" + kind) { FirstRow = 0, Rows = hiddenSize },
            ("self_attn", "k_proj") => new(block + "attn.in_proj_" + kind) { FirstRow = hiddenSize, Rows = hiddenSize },
            ("self_attn", "v_proj") => new(block + "attn.in_proj_" + kind) { FirstRow = 2 * hiddenSize, Rows = hiddenSize },
            ("self_attn", "out_proj") => new(block + "attn.out_proj." + kind),
            ("layer_norm1", _) => new(block + "ln_1." + kind),
            ("layer_norm2", _) => new(block + "ln_2." + kind),
            ("mlp", "fc1") => new(block + "mlp.c_fc." + kind),
            ("mlp", "fc2") => new(block + "mlp.c_proj." + kind),
            _ => throw new ArgumentException($"'{name}' has no counterpart in the OpenCLIP text tower"),
        };
    }
}

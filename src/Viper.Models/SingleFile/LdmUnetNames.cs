using System.Globalization;
using Viper.Models.Unet;

namespace Viper.Models.SingleFile;

/// <summary>
/// A diffusers UNet2DConditionModel parameter name → its name in the original (LDM/SGM) UNet under
/// <c>model.diffusion_model.</c>: the inverse of diffusers 0.29.2's <c>convert_ldm_unet_checkpoint</c>
/// (loaders/single_file_utils.py), the same table scripts/convert_diffusers_to_original_stable_diffusion.py applies.
/// Down level i, resnet j sits in <c>input_blocks.{1 + i(L+1) + j}.0</c>, its attention in <c>.1</c>, the downsampler
/// in <c>input_blocks.{(i+1)(L+1)}.0.op</c>; up level i, resnet j in <c>output_blocks.{i(L+1) + j}.0</c>, the upsampler
/// after the last resnet's attention (if any). Transformer internals keep their names.
/// </summary>
public static class LdmUnetNames
{
    public static string ToLdm(string name, UNet2DConditionConfig config)
    {
        int stride = config.LayersPerBlock + 1;
        string[] p = name.Split('.');
        string Rest(int from) => string.Join('.', p[from..]);
        return p[0] switch
        {
            "time_embedding" => $"time_embed.{Linear(p[1])}.{Rest(2)}",
            "add_embedding" => $"label_emb.0.{Linear(p[1])}.{Rest(2)}",
            "conv_in" => $"input_blocks.0.0.{Rest(1)}",
            "conv_norm_out" => $"out.0.{Rest(1)}",
            "conv_out" => $"out.2.{Rest(1)}",
            "down_blocks" => (p[2], Index(p[1]), p.Length > 3 ? Index(p[3]) : 0) switch
            {
                ("resnets", int i, int j) => $"input_blocks.{1 + (i * stride) + j}.0.{Resnet(Rest(4))}",
                ("attentions", int i, int j) => $"input_blocks.{1 + (i * stride) + j}.1.{Rest(4)}",
                ("downsamplers", int i, _) when p[4] == "conv" => $"input_blocks.{(i + 1) * stride}.0.op.{Rest(5)}",
                _ => Unknown(name),
            },
            "mid_block" => (p[1], Index(p[2])) switch
            {
                ("resnets", int j) => $"middle_block.{2 * j}.{Resnet(Rest(3))}",
                ("attentions", 0) => $"middle_block.1.{Rest(3)}",
                _ => Unknown(name),
            },
            "up_blocks" => (p[2], Index(p[1]), p.Length > 3 ? Index(p[3]) : 0) switch
            {
                ("resnets", int i, int j) => $"output_blocks.{(i * stride) + j}.0.{Resnet(Rest(4))}",
                ("attentions", int i, int j) => $"output_blocks.{(i * stride) + j}.1.{Rest(4)}",
                ("upsamplers", int i, _) when p[4] == "conv" =>
                    $"output_blocks.{(i * stride) + config.LayersPerBlock}.{(config.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal) ? 2 : 1)}.conv.{Rest(5)}",
                _ => Unknown(name),
            },
            _ => Unknown(name),
        };
    }

    /// <summary>A resnet's parameter: norm1 → in_layers.0, conv1 → in_layers.2, time_emb_proj → emb_layers.1, norm2 → out_layers.0, conv2 → out_layers.3, conv_shortcut → skip_connection.</summary>
    private static string Resnet(string rest)
    {
        int dot = rest.IndexOf('.', StringComparison.Ordinal);
        string module = dot < 0 ? rest : rest[..dot], tail = dot < 0 ? "" : rest[dot..];
        return module switch
        {
            "norm1" => "in_layers.0",
            "conv1" => "in_layers.2",
            "time_emb_proj" => "emb_layers.1",
            "norm2" => "out_layers.0",
            "conv2" => "out_layers.3",
            "conv_shortcut" => "skip_connection",
            _ => throw new ArgumentException($"'{rest}' is not a resnet parameter"),
        } + tail;
    }

    private static string Linear(string module) => module switch
    {
        "linear_1" => "0",
        "linear_2" => "2",
        _ => throw new ArgumentException($"'{module}' is not a time embedding layer"),
    };

    private static int Index(string s) => int.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Unknown(string name) => throw new ArgumentException($"'{name}' has no counterpart in the original UNet layout");
}

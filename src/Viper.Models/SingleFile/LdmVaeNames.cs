using Viper.Models.Vae;

namespace Viper.Models.SingleFile;

/// <summary>
/// A diffusers AutoencoderKL parameter name → its name in the original (LDM) autoencoder, the inverse of diffusers
/// 0.29.2's <c>convert_ldm_vae_checkpoint</c>: <c>down_blocks.i.resnets.j</c> → <c>down.i.block.j</c>, the decoder's
/// <c>up_blocks.i</c> → <c>up.{n−1−i}</c> (LDM numbers them from the bottom), the mid attention's
/// <c>group_norm/to_q/to_k/to_v/to_out.0</c> → <c>norm/q/k/v/proj_out</c> (stored there as 1×1 convolutions).
/// </summary>
public static class LdmVaeNames
{
    public static string ToLdm(string name, AutoencoderKLConfig config)
    {
        string[] p = name.Split('.');
        string Rest(int from) => string.Join('.', p[from..]);
        if (p[0] is "quant_conv" or "post_quant_conv")
        {
            return name;
        }

        string half = p[0];
        string body = p[1] switch
        {
            "conv_in" or "conv_out" => Rest(1),
            "conv_norm_out" => $"norm_out.{Rest(2)}",
            "down_blocks" when p[3] == "resnets" => $"down.{p[2]}.block.{p[4]}.{Resnet(Rest(5))}",
            "down_blocks" when p[3] == "downsamplers" => $"down.{p[2]}.downsample.{Rest(5)}",
            "up_blocks" when p[3] == "resnets" => $"up.{Level(p[2], config)}.block.{p[4]}.{Resnet(Rest(5))}",
            "up_blocks" when p[3] == "upsamplers" => $"up.{Level(p[2], config)}.upsample.{Rest(5)}",
            "mid_block" when p[2] == "resnets" => $"mid.block_{(p[3] == "0" ? 1 : 2)}.{Rest(4)}",
            "mid_block" when p[2] == "attentions" => $"mid.attn_1.{Attention(Rest(4))}",
            _ => throw new ArgumentException($"'{name}' has no counterpart in the original autoencoder layout"),
        };
        return $"{half}.{body}";
    }

    /// <summary>True for the mid attention's projections, which the original stores as 1×1 convolutions (C, C, 1, 1).</summary>
    public static bool IsAttentionProjection(string name) => name.Contains(".attentions.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)
        && !name.Contains("group_norm", StringComparison.Ordinal);

    private static int Level(string i, AutoencoderKLConfig config) => config.BlockOutChannels.Length - 1 - int.Parse(i, System.Globalization.CultureInfo.InvariantCulture);

    private static string Resnet(string rest) => rest.StartsWith("conv_shortcut", StringComparison.Ordinal) ? "nin_shortcut" + rest["conv_shortcut".Length..] : rest;

    private static string Attention(string rest)
    {
        int dot = rest.LastIndexOf('.');
        string module = rest[..dot];
        return module switch
        {
            "group_norm" => "norm",
            "to_q" => "q",
            "to_k" => "k",
            "to_v" => "v",
            "to_out.0" => "proj_out",
            _ => throw new ArgumentException($"'{rest}' is not a VAE attention parameter"),
        } + rest[dot..];
    }
}

using Viper.Weights;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers' ACT2FN names the CLIP towers use.</summary>
internal static class ClipActivations
{
    public static Activation Parse(string name, string source) => name switch
    {
        "quick_gelu" => Activation.QuickGelu,
        "gelu" => Activation.Gelu,
        "gelu_new" or "gelu_pytorch_tanh" => Activation.GeluTanh,
        _ => throw new ModelConfigException($"{source}: hidden_act '{name}' is not one CLIP uses (quick_gelu, gelu, gelu_new)"),
    };
}

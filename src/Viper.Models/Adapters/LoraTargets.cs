using Viper.Models.Loading;
using Viper.Models.SingleFile;
using Viper.Models.Unet;
using Viper.Weights;

namespace Viper.Models.Adapters;

/// <summary>A LoRA module resolved to the parameter it changes: component (unet, text_encoder, text_encoder_2) and weight name.</summary>
public sealed record LoraTarget(LoraModule Module, string Component, string Parameter);

/// <summary>
/// Resolves a LoRA file's module keys against a pipeline's parameters by name, as diffusers' lora_conversion_utils does:
/// kohya keys are the module path with dots as underscores under <c>lora_unet_</c>, <c>lora_te_</c>/<c>lora_te1_</c>
/// (text_encoder) and <c>lora_te2_</c> (text_encoder_2) — for SDXL UNets in the original SGM names
/// (<c>input_blocks.4.1</c>, <c>middle_block</c>, <c>output_blocks</c>, as <c>_maybe_map_sgm_blocks_to_diffusers</c>
/// maps them) or in diffusers' names; PEFT keys are <c>unet.</c>/<c>text_encoder.</c>/<c>text_encoder_2.</c> + the module path.
/// Every key must name a module the pipeline has, or the whole file is refused with the keys named.
/// </summary>
public static class LoraTargets
{
    public static IReadOnlyList<LoraTarget> Resolve(LoraFile file, IReadOnlyDictionary<string, ParameterSet> components, UNet2DConditionConfig unet)
    {
        var keys = new Dictionary<string, (string Component, string Parameter)>(StringComparer.Ordinal);
        foreach ((string component, ParameterSet parameters) in components)
        {
            foreach (string name in parameters.Names.Where(n => n.EndsWith(".weight", StringComparison.Ordinal)))
            {
                string module = name[..^".weight".Length];
                keys.TryAdd($"{component}.{module}", (component, name));
                foreach (string prefix in KohyaPrefixes(component))
                {
                    keys.TryAdd(prefix + module.Replace('.', '_'), (component, name));
                }

                if (component == "unet")
                {
                    string original = LdmUnetNames.ToLdm(name, unet);
                    keys.TryAdd("lora_unet_" + original[..^".weight".Length].Replace('.', '_'), (component, name));
                }
            }
        }

        var targets = new List<LoraTarget>();
        var unknown = new List<string>();
        foreach (LoraModule m in file.Modules)
        {
            if (keys.TryGetValue(m.Key, out var target))
            {
                targets.Add(new LoraTarget(m, target.Component, target.Parameter));
            }
            else
            {
                unknown.Add(m.Key);
            }
        }

        if (unknown.Count > 0)
        {
            throw new WeightsException($"{file.Source}: {unknown.Count} of its {file.Modules.Count} modules name nothing in this model ({string.Join(", ", unknown.Take(6).Select(u => $"'{u}'"))}{(unknown.Count > 6 ? ", …" : "")}) — is it a LoRA for another model family?");
        }

        return targets;
    }

    private static string[] KohyaPrefixes(string component) => component switch
    {
        "unet" => ["lora_unet_"],
        "text_encoder" => ["lora_te_", "lora_te1_"],
        "text_encoder_2" => ["lora_te2_"],
        _ => [],
    };
}

using System.Text.Json;
using System.Text.RegularExpressions;

namespace Viper.Models.Adapters;

/// <summary>
/// PEFT's LoraConfig as <c>save_pretrained</c> writes adapter_config.json, and its rules for which modules it adapts
/// (tuners_utils.check_target_module_exists) and with what scale (alpha / r, or alpha / √r with rsLoRA; per-module
/// rank_pattern / alpha_pattern overrides). What the engine cannot apply is refused with the key that asks for it.
/// </summary>
public sealed record LoraConfig(
    int R, double LoraAlpha, Regex? TargetRegex, IReadOnlyList<string> TargetNames, bool UseRslora, IReadOnlyList<int>? LayersToTransform,
    IReadOnlyList<string> LayersPattern, IReadOnlyDictionary<string, int> RankPattern, IReadOnlyDictionary<string, double> AlphaPattern,
    IReadOnlyList<string> ModulesToSave, bool FanInFanOut)
{
    public static LoraConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"adapter: {path} is missing (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)", path);
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement c = doc.RootElement;
            string type = Text(c, "peft_type") ?? "LORA";
            Require(type == "LORA", path, "peft_type", $"'{type}' adapters are not supported (LORA only)");
            Require(!Flag(c, "use_dora"), path, "use_dora", "DoRA adapters are not supported");
            string bias = Text(c, "bias") ?? "none";
            Require(bias == "none", path, "bias", $"'{bias}' (trained biases) is not supported, only \"none\"");
            Require(c.TryGetProperty("r", out JsonElement r) && r.GetInt32() > 0, path, "r", "must be a positive integer");
            Require(c.TryGetProperty("lora_alpha", out JsonElement alpha), path, "lora_alpha", "is missing");
            Require(c.TryGetProperty("target_modules", out JsonElement targets) && targets.ValueKind is JsonValueKind.String or JsonValueKind.Array,
                path, "target_modules", "must be a regex string or a list of module names");
            return new LoraConfig(
                r.GetInt32(), alpha.GetDouble(),
                targets.ValueKind == JsonValueKind.String ? new Regex($"^(?:{targets.GetString()})$", RegexOptions.CultureInvariant) : null,
                targets.ValueKind == JsonValueKind.Array ? [.. targets.EnumerateArray().Select(t => t.GetString()!)] : [],
                Flag(c, "use_rslora"), LayerIndexes(c), Strings(c, "layers_pattern"),
                Pattern(c, "rank_pattern", e => e.GetInt32()), Pattern(c, "alpha_pattern", e => e.GetDouble()), Strings(c, "modules_to_save"),
                Flag(c, "fan_in_fan_out"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or RegexParseException)
        {
            throw new InvalidDataException($"adapter: {path} is not a valid LoRA config: {e.Message}", e);
        }
    }

    /// <summary>check_target_module_exists: a regex target must match the whole module name; names match whole or as a suffix after a dot.</summary>
    public bool Targets(string module)
    {
        if (TargetRegex is not null)
        {
            return TargetRegex.IsMatch(module);
        }

        if (TargetNames.Contains(module))
        {
            return true;
        }

        if (!TargetNames.Any(t => module.EndsWith("." + t, StringComparison.Ordinal)))
        {
            return false;
        }

        if (LayersToTransform is null || LayersToTransform.Count == 0)
        {
            return true;
        }

        Match index = LayersPattern.Count == 0
            ? Regex.Match(module, @"^.*\.[^.]*\.(\d+)\.")
            : LayersPattern.Select(p => Regex.Match(module, $@"^.*\.{p}\.(\d+)\.")).FirstOrDefault(m => m.Success) ?? Match.Empty;
        return index.Success && LayersToTransform.Contains(int.Parse(index.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The merge scale of one module: alpha / r (alpha / √r with rsLoRA), the patterns' values when a key ends its name.</summary>
    public double Scale(string module)
    {
        int r = RankPattern.FirstOrDefault(p => Ends(module, p.Key)) is { Key: not null } rp ? rp.Value : R;
        double alpha = AlphaPattern.FirstOrDefault(p => Ends(module, p.Key)) is { Key: not null } ap ? ap.Value : LoraAlpha;
        return UseRslora ? alpha / Math.Sqrt(r) : alpha / r;
    }

    // PEFT: re.match(rf"(.*\.)?{key}$", module).
    private static bool Ends(string module, string key) => Regex.IsMatch(module, $@"^(.*\.)?{key}$");

    private static void Require(bool ok, string path, string key, string what)
    {
        if (!ok)
        {
            throw new InvalidDataException($"adapter: {path}: \"{key}\" {what}");
        }
    }

    private static string? Text(JsonElement c, string key) => c.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Flag(JsonElement c, string key) => c.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.True;

    private static IReadOnlyList<string> Strings(JsonElement c, string key) => !c.TryGetProperty(key, out JsonElement v) ? [] : v.ValueKind switch
    {
        JsonValueKind.String => [v.GetString()!],
        JsonValueKind.Array => [.. v.EnumerateArray().Select(e => e.GetString()!)],
        _ => [],
    };

    private static IReadOnlyList<int>? LayerIndexes(JsonElement c) => !c.TryGetProperty("layers_to_transform", out JsonElement v) ? null : v.ValueKind switch
    {
        JsonValueKind.Number => [v.GetInt32()],
        JsonValueKind.Array => [.. v.EnumerateArray().Select(e => e.GetInt32())],
        _ => null,
    };

    private static IReadOnlyDictionary<string, T> Pattern<T>(JsonElement c, string key, Func<JsonElement, T> read) =>
        c.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Object
            ? v.EnumerateObject().ToDictionary(p => p.Name, p => read(p.Value))
            : new Dictionary<string, T>();
}

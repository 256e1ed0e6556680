using System.Text.RegularExpressions;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Adapters;

/// <summary>One adapted module of a LoRA file: its key as the file names it, the down (r, in[, kh, kw]) and up (out, r[, 1, 1]) matrices, and alpha.</summary>
public sealed record LoraModule(string Key, TensorEntry Down, TensorEntry Up, float? Alpha)
{
    public int Rank => Down.Shape[0];

    /// <summary>alpha / rank (alpha defaults to the rank: scale 1, as kohya and PEFT do without one).</summary>
    public double Scale => (Alpha ?? Rank) / (double)Rank;
}

/// <summary>
/// A Stable Diffusion LoRA file as A1111, ComfyUI and diffusers users have them, parsed without touching any model:
/// kohya/A1111 names (<c>lora_unet_…</c>, <c>lora_te_…</c>, <c>lora_te1_…</c>, <c>lora_te2_…</c> with
/// <c>.lora_down.weight</c>/<c>.lora_up.weight</c> and a per-module <c>.alpha</c>; LoCon convolutions included) and the
/// diffusers/PEFT layout (<c>unet.…/text_encoder.….lora_A.weight</c>/<c>lora_B.weight</c>, or the older
/// <c>.lora.down.weight</c>/<c>.lora.up.weight</c>). Variants whose merge is not W + scale·up·down — DoRA, LoHa, LoKr,
/// (IA)³, GLoRA, Tucker-decomposed LoCon, full diffs — are refused by name, never half-applied.
/// </summary>
public sealed class LoraFile : IDisposable
{
    private static readonly (string Marker, string Variant)[] Unsupported =
    [
        (".dora_scale", "DoRA"), (".hada_w1_a", "LoHa"), (".hada_w1_b", "LoHa"), (".lokr_w1", "LoKr"), (".lokr_w2", "LoKr"),
        (".lokr_w1_a", "LoKr"), (".on_input", "(IA)³"), (".a1.weight", "GLoRA"), (".lora_mid.weight", "LoCon with Tucker decomposition (lora_mid)"),
        (".diff", "a full weight difference"), (".diff_b", "a full bias difference"), (".lora_magnitude_vector", "DoRA"),
    ];

    private LoraFile(WeightStore store, IReadOnlyList<LoraModule> modules) => (Store, Modules) = (store, modules);

    public WeightStore Store { get; }

    public string Source => Store.Source;

    public IReadOnlyList<LoraModule> Modules { get; }

    public static LoraFile Open(string path)
    {
        if (!Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            throw new WeightsException($"{path}: LoRAs are read from .safetensors files (kohya, A1111 and diffusers save them so; a .pt/.ckpt LoRA can be re-saved with safetensors)");
        }

        WeightStore store = WeightStore.Open(path);
        try
        {
            return new LoraFile(store, Parse(store));
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The float values of <paramref name="entry"/>, widened to f32.</summary>
    public float[] Floats(TensorEntry entry) => HostTensors.DecodeFloats(Store.Bytes(entry.Name), entry.DType);

    public void Dispose() => Store.Dispose();

    private static List<LoraModule> Parse(WeightStore store)
    {
        foreach (string name in store.Names)
        {
            foreach ((string marker, string variant) in Unsupported)
            {
                if (name.EndsWith(marker, StringComparison.Ordinal) || name.Contains(marker + ".", StringComparison.Ordinal))
                {
                    throw new WeightsException($"{store.Source}: '{name}' belongs to a {variant} adapter, which is not supported (only LoRA and LoCon: W + scale·up·down)");
                }
            }
        }

        var downs = new Dictionary<string, string>(StringComparer.Ordinal);
        var ups = new Dictionary<string, string>(StringComparer.Ordinal);
        var alphas = new Dictionary<string, string>(StringComparer.Ordinal);
        var stray = new List<string>();
        foreach (string name in store.Names)
        {
            if (Split(name) is not { } part)
            {
                stray.Add(name);
                continue;
            }

            (part.Role switch { "down" => downs, "up" => ups, _ => alphas })[part.Module] = name;
        }

        string[] unpaired = [.. downs.Keys.Except(ups.Keys), .. ups.Keys.Except(downs.Keys), .. alphas.Keys.Except(downs.Keys)];
        if (stray.Count > 0 || unpaired.Length > 0)
        {
            string what = string.Join(", ", stray.Take(5).Select(s => $"'{s}'").Concat(unpaired.Take(5).Select(u => $"'{u}' (without its pair)")));
            throw new WeightsException($"{store.Source}: not a LoRA this loader knows — {what}{(stray.Count + unpaired.Length > 10 ? ", …" : "")}");
        }

        if (downs.Count == 0)
        {
            throw new WeightsException($"{store.Source}: holds no LoRA modules");
        }

        var modules = new List<LoraModule>();
        foreach ((string module, string downName) in downs.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            TensorEntry down = store.Entry(downName), up = store.Entry(ups[module]);
            bool shapesAgree = down.Shape.Rank is 2 or 4 && up.Shape.Rank == down.Shape.Rank && up.Shape[1] == down.Shape[0]
                && (up.Shape.Rank == 2 || (up.Shape[2] == 1 && up.Shape[3] == 1)) && down.DType.IsFloat() && up.DType.IsFloat();
            if (!shapesAgree)
            {
                throw new WeightsException($"{store.Source}: '{module}' has down {down.Shape} {down.DType} and up {up.Shape} {up.DType}, not a rank-r pair (r, in[, kh, kw]) / (out, r[, 1, 1])");
            }

            float? alpha = null;
            if (alphas.TryGetValue(module, out string? alphaName))
            {
                TensorEntry a = store.Entry(alphaName);
                float[] value = a.DType.IsFloat() && a.Shape.ElementCount == 1 ? HostTensors.DecodeFloats(store.Bytes(alphaName), a.DType) : [float.NaN];
                alpha = float.IsFinite(value[0]) ? value[0] : throw new WeightsException($"{store.Source}: '{alphaName}' is not a finite scalar");
            }

            modules.Add(new LoraModule(module, down, up, alpha));
        }

        return modules;
    }

    // kohya: <module>.lora_down.weight / .lora_up.weight / .alpha; PEFT: <module>.lora_A.weight / .lora_B.weight;
    // diffusers' older attention processors: <module>.lora.down.weight / .lora.up.weight (and …processor.to_q_lora.down.weight).
    private static (string Module, string Role)? Split(string name)
    {
        Match m = Regex.Match(name, @"^(?<m>.+?)\.(?:lora_down\.weight|lora_A(?:\.default)?\.weight|lora\.down\.weight|(?<proc>to_(?:q|k|v|out))_lora\.down\.weight)$");
        if (m.Success)
        {
            return (Module(m), "down");
        }

        m = Regex.Match(name, @"^(?<m>.+?)\.(?:lora_up\.weight|lora_B(?:\.default)?\.weight|lora\.up\.weight|(?<proc>to_(?:q|k|v|out))_lora\.up\.weight)$");
        if (m.Success)
        {
            return (Module(m), "up");
        }

        return name.EndsWith(".alpha", StringComparison.Ordinal) ? (name[..^".alpha".Length], "alpha") : null;
    }

    // attn1.processor.to_out_lora → attn1.to_out.0; attn1.processor.to_q_lora → attn1.to_q
    private static string Module(Match m)
    {
        string module = m.Groups["m"].Value;
        if (!m.Groups["proc"].Success)
        {
            return module;
        }

        string owner = module.EndsWith(".processor", StringComparison.Ordinal) ? module[..^".processor".Length] : module;
        string projection = m.Groups["proc"].Value;
        return $"{owner}.{(projection == "to_out" ? "to_out.0" : projection)}";
    }
}

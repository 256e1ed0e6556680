using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Models.SingleFile;

/// <summary>
/// A Stable Diffusion checkpoint in the original single-file layout (A1111, ComfyUI, civitai): <c>.safetensors</c>, or a
/// <c>.ckpt</c>/<c>.pt</c> read by the restricted unpickler. Each pipeline component loads straight from it through
/// <see cref="MappedWeights"/> with the name mapping of diffusers 0.29.2's loaders/single_file_utils.py, one tensor at a
/// time. <see cref="Check"/> lists every missing, mis-shaped or unexpected tensor in one error before anything loads.
/// </summary>
public sealed class SingleFileCheckpoint : IDisposable
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private SingleFileCheckpoint(ITensorReader reader, SingleFileFamily family) => (Reader, Family) = (reader, family);

    public ITensorReader Reader { get; }

    public SingleFileFamily Family { get; }

    public string Source => Reader.Source;

    /// <summary>Opens <paramref name="path"/> (.safetensors, or .ckpt/.pt) and detects its family from the keys.</summary>
    public static SingleFileCheckpoint Open(string path)
    {
        ITensorReader reader = OpenTensors(path);
        try
        {
            SingleFileFamily family = SingleFileFamilies.Detect(reader.Names) ?? throw new WeightsException(
                $"{path}: not a Stable Diffusion single-file checkpoint (it needs model.diffusion_model.* and cond_stage_model.* or conditioner.embedders.*){Hint(reader.Names)}");
            return new SingleFileCheckpoint(reader, family);
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>A .safetensors file, or a torch.save archive (.ckpt, .pt, .pth, .bin) through the restricted unpickler.</summary>
    public static ITensorReader OpenTensors(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: the file does not exist", path);
        }

        return Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase) ? WeightStore.Open(path) : TorchStateDict.Open(path);
    }

    public Func<string, TensorRecipe> UnetNames(UNet2DConditionConfig config) => SingleFileLayout.UnetNames(config);

    public Func<string, TensorRecipe> VaeNames(AutoencoderKLConfig config) => SingleFileLayout.VaeNames("first_stage_model.", config);

    public Func<string, TensorRecipe> TextEncoderNames(string component, ClipTextConfig config) => SingleFileLayout.TextEncoderNames(Family, component, config);

    public (string Prefix, bool OpenClip) TextEncoderLayout(string component) => SingleFileLayout.TextEncoder(Family, component);

    /// <summary>A weight source reading through <paramref name="map"/>.</summary>
    public WeightSource Weights(Func<string, TensorRecipe> map, IBackend backend, DType dtype, DType? linearWeights = null, CancellationToken cancellationToken = default) =>
        new MappedWeights(Reader, map, _used, backend, dtype, linearWeights, cancellationToken);

    /// <summary>
    /// Checks, before anything loads, that every tensor the components ask for is in the file with a shape that gives it,
    /// and that the file holds nothing under the components' prefixes the models would not read. All problems are
    /// reported in one <see cref="WeightsException"/>. Returns the stored tensors left out that upstream ignores too
    /// (EMA copies, the DDPM schedule buffers, position ids, SD2's unused last text layer), for a warning.
    /// </summary>
    public IReadOnlyList<string> Check(IReadOnlyList<ComponentTensors> components) => Check(Reader, $"the {Family.Name()} layout the config describes", components);

    /// <summary><see cref="Check"/> for any checkpoint read through name maps (a standalone VAE file too).</summary>
    public static IReadOnlyList<string> Check(ITensorReader reader, string layout, IReadOnlyList<ComponentTensors> components)
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (ComponentTensors c in components)
        {
            foreach ((string name, Shape shape) in c.Tensors)
            {
                TensorRecipe recipe = c.Map(name);
                referenced.Add(recipe.Source);
                if (!reader.Contains(recipe.Source))
                {
                    problems.Add($"missing '{recipe.Source}' ({c.Component} '{name}', {shape})");
                }
                else if (reader.Entry(recipe.Source).Shape is var stored && !recipe.Fits(stored, shape))
                {
                    problems.Add($"'{recipe.Source}' is {stored}; {c.Component} '{name}' needs {shape}");
                }
            }
        }

        string[] prefixes = components.Select(c => c.Prefix).ToArray();
        var ignored = new List<string>();
        foreach (string name in reader.Names.Where(n => !referenced.Contains(n)).Order(StringComparer.Ordinal))
        {
            if (prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) && !IgnoredUpstream(name, components))
            {
                problems.Add($"unexpected '{name}' (no model part reads it)");
            }
            else
            {
                ignored.Add(name);
            }
        }

        if (problems.Count > 0)
        {
            const int Shown = 12;
            string list = string.Join("; ", problems.Take(Shown)) + (problems.Count > Shown ? $"; … and {problems.Count - Shown} more" : "");
            string hint = problems.Any(p => p.Contains(" needs ", StringComparison.Ordinal))
                ? " (tensors of other sizes: the config describes another model — give --config a diffusers folder with this model's configs)" : "";
            throw new WeightsException($"{reader.Source}: does not match {layout} — {problems.Count} problem(s): {list}{hint}");
        }

        return ignored;
    }

    /// <summary>A one-line summary of <paramref name="ignored"/>, grouped by leading name.</summary>
    public static string Summarize(IReadOnlyList<string> ignored) =>
        string.Join(", ", ignored.GroupBy(n => n.Split('.')[0]).Select(g => g.Count() == 1 ? g.Key : $"{g.Key}.* ({g.Count()})"));

    public void Dispose() => Reader.Dispose();

    // What diffusers' conversion skips on purpose: SD2's 24th OpenCLIP layer and projection (SD_2_TEXT_ENCODER_KEYS_TO_IGNORE:
    // the pipeline uses 23 layers), position id buffers, OpenCLIP's logit scale and attention mask.
    private static bool IgnoredUpstream(string name, IReadOnlyList<ComponentTensors> components) =>
        name.EndsWith(".position_ids", StringComparison.Ordinal) || name.EndsWith("logit_scale", StringComparison.Ordinal)
        || name.EndsWith("attn_mask", StringComparison.Ordinal) || name.StartsWith("model_ema.", StringComparison.Ordinal) || name.StartsWith("loss.", StringComparison.Ordinal)
        || (name.StartsWith("cond_stage_model.model.", StringComparison.Ordinal) && (name.EndsWith("text_projection", StringComparison.Ordinal) || BeyondLayers(name, components)));

    private static bool BeyondLayers(string name, IReadOnlyList<ComponentTensors> components)
    {
        const string Blocks = "cond_stage_model.model.transformer.resblocks.";
        if (!name.StartsWith(Blocks, StringComparison.Ordinal) || components.FirstOrDefault(c => c.Component == "text_encoder") is not { TextLayers: int layers })
        {
            return false;
        }

        string index = name[Blocks.Length..].Split('.')[0];
        return int.TryParse(index, out int i) && i >= layers;
    }

    private static string Hint(IReadOnlyCollection<string> names) =>
        names.Any(n => n.StartsWith("lora_", StringComparison.Ordinal) || n.Contains(".lora_", StringComparison.Ordinal)) ? " — it looks like a LoRA: pass it with --lora"
        : names.Count <= 2 && names.Any(n => n.Contains("emb_params", StringComparison.Ordinal) || n is "clip_l" or "clip_g") ? " — it looks like a textual-inversion embedding: pass it with --embedding"
        : names.Any(n => n.StartsWith("down_blocks.", StringComparison.Ordinal) || n.StartsWith("encoder.down", StringComparison.Ordinal)) ? " — it looks like one component (a UNet or VAE), not a whole pipeline"
        : "";
}

/// <summary>
/// What one component asks of a single file: its diffusers names and shapes, the map to the file's names, the prefix its
/// tensors live under there, and (text encoders) how many layers the config keeps.
/// </summary>
public sealed record ComponentTensors(string Component, string Prefix, IReadOnlyDictionary<string, Shape> Tensors, Func<string, TensorRecipe> Map, int? TextLayers = null);

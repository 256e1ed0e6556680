using System.Globalization;
using System.Reflection;
using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>Where a generation ran and from what, as its record names them (folders as the caller wants them shown).</summary>
public sealed record GenerationSetup(string Backend, PipelineOptions Options, string Model, string? Refiner = null, string? InitImage = null);

/// <summary>
/// The PNG <c>parameters</c> text chunk, one setting per line like other SD tools write it: everything needed to make
/// the image again — prompts, the attributes in the order the encoders saw them, form, β, guidance, steps, the sampler
/// that ran, seed and shuffle, size, backend, dtype, variant, image-to-image settings, models and engine version. The CLI
/// and the studio write the same record.
/// </summary>
public static class GenerationRecord
{
    public static string Engine { get; } = "Viper.Engine " +
        (typeof(ViperPipeline).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");

    /// <summary>The PNG text chunks of a generated image: <c>Software</c> and <c>parameters</c>.</summary>
    public static IReadOnlyDictionary<string, string> PngText(GenerationRequest q, GenerationResult result, GenerationSetup setup) =>
        new Dictionary<string, string> { ["Software"] = Engine, ["parameters"] = Text(q, result, setup) };

    public static string Text(GenerationRequest q, GenerationResult result, GenerationSetup setup)
    {
        PipelineOptions options = setup.Options;
        string shuffle = q.Form == ViperForm.Paper || q.Preference is null ? "n/a" : q.ShufflePreferences ? $"seed {q.Seed}" : "off";
        var lines = new List<string>
        {
            $"prompt: {q.Prompt}",
            q.NegativePrompt is null ? "negative prompt: (none)" : $"negative prompt: {q.NegativePrompt}",
            $"likes: {result.LikedText}",
            $"dislikes: {result.DislikedText}",
            Invariant($"form: {q.Form.ToString().ToLowerInvariant()}, beta+: {q.BetaPositive}, beta-: {q.BetaNegative}, shuffle: {shuffle}, guidance: {q.Guidance}, steps: {q.Steps}, scheduler: {result.Scheduler}, seed: {q.Seed}, batch: {q.Batch}"),
            Invariant($"size: {result.Width}x{result.Height}, backend: {setup.Backend}, dtype: {DTypeName(options.DType)}, weights: {options.LinearWeights?.Label() ?? DTypeName(options.DType)}, variant: {options.Variant ?? "none"}, long text: {q.LongText.ToString().ToLowerInvariant()}"),
        };
        if (q.Aesthetic is { } aesthetic)
        {
            string losses = result.AestheticLosses is { } l ? Invariant($", loss: {l[0]:F5} -> {l[^1]:F5}") : "";
            string lossesG = result.AestheticLossesG is { } g ? Invariant($", loss g: {g[0]:F5} -> {g[^1]:F5}") : "";
            lines.Add(Invariant($"aesthetic embedding: {aesthetic.Source}{(aesthetic.EmbeddingG is null ? "" : " (clip_l, clip_g)")}, aesthetic steps: {aesthetic.Steps}, aesthetic lr: {aesthetic.LearningRate:R}, aesthetic clip: {options.AestheticClipFolder}{(options.AestheticClipGFolder is { } cg ? $", aesthetic clip g: {cg}" : "")}{losses}{lossesG}"));
            // The A1111 extension's names, as its infotext writes them.
            lines.Add(Invariant($"Aesthetic weight: {aesthetic.Weight}, Aesthetic slerp: {aesthetic.Slerp}, Aesthetic text: {aesthetic.Text ?? ""}, Aesthetic text negative: {aesthetic.TextNegative}, Aesthetic slerp angle: {aesthetic.SlerpAngle}"));
        }

        if (setup.InitImage is { } init)
        {
            lines.Add(Invariant($"init image: {init}, strength: {q.Strength}"));
        }

        if (q.Loras.Count > 0)
        {
            // A1111 writes the weights into the prompt (<lora:name:w>) and the hashes on a line of their own: both are here.
            lines.Add("loras: " + string.Join(", ", q.Loras.Select(l => Invariant($"<lora:{l.Name}:{l.Weight}>"))));
            lines.Add($"Lora hashes: \"{string.Join(", ", q.Loras.Select(l => $"{l.Name}: {FileHash.Short(l.Path)}"))}\"");
        }

        if (options.Embeddings.Count > 0)
        {
            lines.Add($"TI hashes: \"{string.Join(", ", options.Embeddings.Select(e => $"{e.Name}: {FileHash.Short(e.Path)}"))}\"");
        }

        lines.Add($"model: {setup.Model}");
        if (options.ConfigFolder is { } config)
        {
            lines.Add($"config: {config}");
        }

        if (options.Prediction is { } prediction)
        {
            lines.Add($"prediction: {prediction}");
        }

        if (options.Vae is { } vae)
        {
            lines.Add($"vae: {vae}");
        }

        if (setup.Refiner is { } refiner)
        {
            lines.Add(Invariant($"refiner: {refiner}, denoising end: {q.DenoisingEnd}"));
        }

        lines.Add($"engine: {Engine}");
        return string.Join('\n', lines);
    }

    /// <summary>The dtype as the CLI's --dtype names it.</summary>
    public static string DTypeName(DType dtype) => dtype switch { DType.F16 => "f16", DType.BF16 => "bf16", _ => "f32" };

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

using System.CommandLine;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>
/// The options for the files A1111/ComfyUI users have — single-file checkpoints and their config, prediction type and
/// VAE, LoRAs (FILE[:WEIGHT]) and textual-inversion embeddings (FILE[:TOKEN]) — declared once, read and checked before
/// any model loads; errors name the option as typed.
/// </summary>
internal static class ModelFileArguments
{
    public static readonly Option<DirectoryInfo?> Config = new("--config")
    {
        Description = "For a single-file --model: a diffusers pipeline folder whose configs, tokenizers and scheduler to use (as from_single_file(config=…)); default: the bundled config of the file's family (sd1, sd2 768-v, sdxl, sdxl-refiner)",
        HelpName = "folder",
    };

    public static readonly Option<string?> Prediction = new("--prediction")
    {
        Description = "What the model predicts, overriding the scheduler config: v (SD2.x 768-v and other v-models) or epsilon. Weights do not say it",
        HelpName = "v|epsilon",
    };

    public static readonly Option<string?> Vae = new("--vae")
    {
        Description = "Use this VAE instead of the model's: a diffusers vae folder, or a file (diffusers names, e.g. the fp16-fix SDXL VAE, or A1111's *.vae.safetensors/.pt)",
        HelpName = "file|folder",
    };

    public static readonly Option<string[]> Loras = new("--lora")
    {
        Description = "A LoRA to merge (kohya/A1111, LoCon or diffusers/PEFT .safetensors), with its weight (default 1); repeat for several",
        HelpName = "file[:weight]", AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<string[]> Embeddings = new("--embedding")
    {
        Description = "A textual-inversion embedding (A1111 .pt/.safetensors, SDXL clip_l/clip_g) and the token that stands for it in prompts (default: the file name without extension); repeat for several",
        HelpName = "file[:token]", AllowMultipleArgumentsPerToken = false,
    };

    static ModelFileArguments() => OptionKinds.OneOf(Prediction, "a prediction type", ["v", "epsilon"]);

    /// <summary>A --model/--refiner path: a diffusers pipeline folder, or a single-file checkpoint.</summary>
    public static string ModelPath(string path, string option)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return File.Exists(Path.Combine(full, "model_index.json")) ? full
                : throw new UsageException($"{option} {full}: no model_index.json there (a diffusers pipeline folder, or give a single-file checkpoint)");
        }

        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"{option} {full}: no such file or folder");
        }

        string extension = Path.GetExtension(full).ToLowerInvariant();
        return extension is ".safetensors" or ".ckpt" or ".pt" or ".pth" ? full
            : throw new UsageException($"{option} {full}: a single-file checkpoint is .safetensors or .ckpt, not {extension}");
    }

    public static string? PredictionType(string? value) => value switch { null => null, "v" => "v_prediction", _ => "epsilon" };

    public static string? VaePath(string? path)
    {
        if (path is null)
        {
            return null;
        }

        string full = Path.GetFullPath(path);
        return Directory.Exists(full) || File.Exists(full) ? full : throw new FileNotFoundException($"--vae {full}: no such file or folder");
    }

    public static IReadOnlyList<LoraWeight> ReadLoras(string[]? values) => (values ?? []).Select(v =>
    {
        (string file, string? suffix) = SplitSuffix(v, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        float weight = suffix is null ? 1f : float.Parse(suffix, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!GenerationLimits.LoraWeight.Contains(weight))
        {
            throw new UsageException($"--lora {v}: the weight {suffix} is not {GenerationLimits.LoraWeight}");
        }

        return new LoraWeight(ExistingFile(file, "--lora"), weight);
    }).ToList();

    public static IReadOnlyList<EmbeddingToken> ReadEmbeddings(string[]? values)
    {
        var result = (values ?? []).Select(v =>
        {
            (string file, string? token) = SplitSuffix(v, s => s.Length > 0 && !s.Any(c => c is '/' or '\\' || char.IsWhiteSpace(c)));
            return new EmbeddingToken(ExistingFile(file, "--embedding"), token);
        }).ToList();
        string? twice = result.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1)?.Key;
        return twice is null ? result : throw new UsageException($"--embedding: two embeddings use the token '{twice}'; name one FILE:TOKEN");
    }

    // "style.safetensors:0.6" → (style.safetensors, 0.6); a path's own colons (C:\…) stay when the suffix is not one.
    private static (string File, string? Suffix) SplitSuffix(string value, Func<string, bool> isSuffix)
    {
        int colon = value.LastIndexOf(':');
        return colon > 0 && isSuffix(value[(colon + 1)..]) && !File.Exists(value) ? (value[..colon], value[(colon + 1)..]) : (value, null);
    }

    private static string ExistingFile(string path, string option)
    {
        string full = Path.GetFullPath(path);
        return File.Exists(full) ? full : throw new FileNotFoundException($"{option} {full}: the file does not exist");
    }
}

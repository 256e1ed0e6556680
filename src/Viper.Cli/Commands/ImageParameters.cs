using System.Globalization;
using System.Reflection;
using Viper.Imaging;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>
/// The PNG <c>parameters</c> text chunk, one setting per line like other SD tools write it: everything needed to make
/// the image again — prompts, the attributes in the order the encoders saw them, form, β, guidance, steps, the sampler
/// that ran, seed and shuffle, size, backend, dtype, variant, image-to-image settings, models and engine version.
/// </summary>
internal sealed class ImageParameters(GenerationRequest q, GenerationResult result, GenerateInputs inputs, string backend, PipelineOptions options)
{
    public static string Engine { get; } = "Viper.Engine " +
        (typeof(ViperPipeline).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");

    public string Text
    {
        get
        {
            var lines = new List<string>
            {
                $"prompt: {q.Prompt}",
                q.NegativePrompt is null ? "negative prompt: (none)" : $"negative prompt: {q.NegativePrompt}",
                $"likes: {result.LikedText}",
                $"dislikes: {result.DislikedText}",
                Invariant($"form: {q.Form.ToString().ToLowerInvariant()}, beta+: {q.BetaPositive}, beta-: {q.BetaNegative}, shuffle: {Shuffle}, guidance: {q.Guidance}, steps: {q.Steps}, scheduler: {result.Scheduler}, seed: {q.Seed}, batch: {q.Batch}"),
                Invariant($"size: {result.Width}x{result.Height}, backend: {backend}, dtype: {OptionKinds.Name(options.DType)}, variant: {options.Variant ?? "none"}, long text: {q.LongText.ToString().ToLowerInvariant()}"),
            };
            if (q.Aesthetic is { } aesthetic)
            {
                string losses = result.AestheticLosses is { } l ? Invariant($", loss: {l[0]:F5} -> {l[^1]:F5}") : "";
                lines.Add(Invariant($"aesthetic embedding: {aesthetic.Source}, aesthetic steps: {aesthetic.Steps}, aesthetic lr: {aesthetic.LearningRate:R}, aesthetic clip: {options.AestheticClipFolder}{losses}"));
            }

            if (inputs.InitImagePath is { } init)
            {
                lines.Add(Invariant($"init image: {init}, strength: {q.Strength}"));
            }

            lines.Add($"model: {inputs.ModelFolder}");
            if (inputs.RefinerFolder is { } refiner)
            {
                lines.Add(Invariant($"refiner: {refiner}, denoising end: {q.DenoisingEnd}"));
            }

            lines.Add($"engine: {Engine}");
            return string.Join('\n', lines);
        }
    }

    private string Shuffle => q.Form == ViperForm.Paper || q.Preference is null ? "n/a" : q.ShufflePreferences ? $"seed {q.Seed}" : "off";

    /// <summary>Writes the images (image i of a batch as NAME-i.ext); returns their paths.</summary>
    public IReadOnlyList<string> Save(GenerationResult images, FileInfo output)
    {
        var text = new Dictionary<string, string> { ["Software"] = Engine, ["parameters"] = Text };
        var paths = new List<string>();
        for (int i = 0; i < images.Images.Count; i++)
        {
            string path = images.Images.Count == 1
                ? output.FullName
                : Path.Combine(output.DirectoryName ?? ".", $"{Path.GetFileNameWithoutExtension(output.Name)}-{i}{output.Extension}");
            PngWriter.Write(path, images.Images[i], text);
            paths.Add(path);
        }

        return paths;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

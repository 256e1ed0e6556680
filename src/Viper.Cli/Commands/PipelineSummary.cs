using System.Text.Json;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Models.Loading;
using Viper.Weights;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper inspect FOLDER` on a diffusers pipeline folder: one row per component of model_index.json — its class, the
/// weight files and variants present, tensors, parameters, dtypes and size of the selected variant's weights.
/// </summary>
internal static class PipelineSummary
{
    private static readonly string[] WeightNames = ["diffusion_pytorch_model", "model"];

    public static bool IsPipelineFolder(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, "model_index.json"));

    public static void Show(string folder, string? variant)
    {
        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model_index.json")));
        JsonElement root = index.RootElement;
        string className = root.TryGetProperty("_class_name", out JsonElement c) ? c.GetString() ?? "?" : "?";
        CliOutput.Line($"{folder}: {className}");
        long totalBytes = 0;
        foreach (JsonProperty p in root.EnumerateObject().Where(IsComponent).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            string dir = Path.Combine(folder, p.Name);
            string head = $"  {p.Name,-16} {p.Value[1].GetString(),-36}";
            if (!Directory.Exists(dir))
            {
                CliOutput.Line($"{head} folder missing");
                continue;
            }

            string? baseName = WeightNames.FirstOrDefault(n => Directory.EnumerateFiles(dir, $"{n}*.safetensors*").Any());
            if (baseName is null)
            {
                CliOutput.Line($"{head} {string.Join(", ", Directory.EnumerateFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal))}");
                continue;
            }

            string variants = string.Join(", ", Directory.EnumerateFiles(dir, $"{baseName}*.safetensors*").Select(f => VariantOf(f, baseName)).Distinct().Order());
            try
            {
                using WeightStore store = CheckpointFiles.Open(dir, baseName, variant);
                long bytes = store.Entries.Sum(e => e.ByteLength);
                totalBytes += bytes;
                string dtypes = string.Join(" ", store.Entries.GroupBy(e => e.DType).Select(g => $"{g.Key}×{g.Count()}"));
                CliOutput.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{head} {string.Join(", ", store.Files.Select(f => Path.GetFileName(f)))}: {store.Entries.Count():N0} tensors, {store.Entries.Sum(e => e.Shape.ElementCount):N0} parameters, {dtypes}, {bytes / 1048576.0:N1} MiB (variants: {variants})"));
            }
            catch (WeightsException e)
            {
                CliOutput.Line($"{head} {e.Message[(dir.Length + 2)..]}");
            }
        }

        CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"weights: {totalBytes / 1048576.0:N1} MiB{(variant is null ? "" : $" ({variant} variant)")}"));
    }

    private static bool IsComponent(JsonProperty p) =>
        p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2 && p.Value[0].ValueKind == JsonValueKind.String;

    // model.safetensors → "plain"; model.fp16.safetensors / model.fp16.safetensors.index.json → "fp16".
    private static string VariantOf(string file, string baseName)
    {
        string rest = Path.GetFileName(file)[(baseName.Length + 1)..];
        return rest.StartsWith("safetensors", StringComparison.Ordinal) ? "plain" : rest.Split('.')[0];
    }
}

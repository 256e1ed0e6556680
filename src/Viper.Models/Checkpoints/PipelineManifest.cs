using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Viper.Models.Loading;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>
/// One component folder of a pipeline manifest: the weights manifest its safetensors must match (a name beside the
/// pipelines folder: <c>weights-manifest/NAME.json</c>), the files it must hold, and values its JSON files must carry.
/// </summary>
public sealed record PipelineComponentManifest(
    [property: JsonPropertyName("weights")] string? Weights,
    [property: JsonPropertyName("files")] string[]? Files,
    [property: JsonPropertyName("values")] Dictionary<string, JsonObject>? Values);

/// <summary>
/// What a published diffusers pipeline folder (weights-manifest/pipelines/*.json) must hold for the engine to run it:
/// model_index.json's class and components, each component's tensors (through its weights manifest), its tokenizer
/// files, and the scheduler values that define the noise schedule. <see cref="Check"/> lists every difference by path.
/// </summary>
public sealed record PipelineManifest(
    [property: JsonPropertyName("checkpoint")] string Checkpoint,
    [property: JsonPropertyName("class_name")] string ClassName,
    [property: JsonPropertyName("components")] SortedDictionary<string, PipelineComponentManifest> Components)
{
    /// <summary>The folder the named weights manifests are read from (the pipelines folder's parent).</summary>
    [JsonIgnore]
    public string WeightsFolder { get; init; } = "";

    /// <summary>True when <paramref name="path"/> holds a pipeline manifest rather than a weights manifest.</summary>
    public static bool IsPipelineManifest(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && o.ContainsKey("components");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static PipelineManifest Load(string path)
    {
        try
        {
            PipelineManifest? m = JsonSerializer.Deserialize<PipelineManifest>(File.ReadAllBytes(path));
            if (m?.Checkpoint is null || m.ClassName is null || m.Components is null || m.Components.Values.Any(c => c is null))
            {
                throw new WeightsException($"{path}: a pipeline manifest needs \"checkpoint\", \"class_name\" and \"components\"");
            }

            return m with { WeightsFolder = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(path)))! };
        }
        catch (JsonException e)
        {
            throw new WeightsException($"{path}: pipeline manifest is not valid JSON: {e.Message}");
        }
    }

    public WeightsManifest WeightsOf(string component) =>
        WeightsManifest.Load(Path.Combine(WeightsFolder, Components[component].Weights + ".json"));

    /// <summary>
    /// Compares pipeline folder <paramref name="folder"/> with this manifest; <paramref name="variant"/> selects the
    /// <c>fp16</c>-style weight files, whose float tensors may then be stored in another float dtype.
    /// </summary>
    public PipelineReport Check(string folder, string? variant = null)
    {
        var problems = new List<string>();
        var weights = new List<ManifestReport>();
        JsonObject? index = ReadObject(Path.Combine(folder, "model_index.json"), problems);
        if (index is not null && index["_class_name"]?.GetValue<string>() != ClassName)
        {
            problems.Add($"model_index.json: _class_name is {index["_class_name"]?.ToJsonString() ?? "missing"}, expected \"{ClassName}\"");
        }

        foreach ((string name, PipelineComponentManifest component) in Components)
        {
            string dir = Path.Combine(folder, name);
            if (index is not null && !index.ContainsKey(name))
            {
                problems.Add($"model_index.json does not name component {name}");
            }

            if (!Directory.Exists(dir))
            {
                problems.Add($"{name}/ is missing");
                continue;
            }

            problems.AddRange((component.Files ?? []).Where(f => !File.Exists(Path.Combine(dir, f))).Select(f => $"{name}/{f} is missing"));
            foreach ((string file, JsonObject expected) in component.Values ?? [])
            {
                CheckValues($"{name}/{file}", ReadObject(Path.Combine(dir, file), problems), expected, problems);
            }

            if (component.Weights is not null)
            {
                WeightsManifest manifest = WeightsOf(name);
                try
                {
                    using WeightStore store = CheckpointFiles.Open(dir, manifest.Files[0].Replace(".safetensors", ""), variant);
                    weights.Add(manifest.Check(store, anyFloatDType: true));
                }
                catch (Exception e) when (e is WeightsException or SafeTensorsFormatException)
                {
                    problems.Add($"{name}: {e.Message}");
                }
            }
        }

        return new PipelineReport(Checkpoint, folder, problems, weights);
    }

    private static JsonObject? ReadObject(string path, List<string> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add($"{path} is missing");
            return null;
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not a JSON object");
        }
        catch (JsonException e)
        {
            problems.Add($"{path} is not valid JSON: {e.Message}");
            return null;
        }
    }

    private static void CheckValues(string file, JsonObject? actual, JsonObject expected, List<string> problems)
    {
        if (actual is null)
        {
            return;
        }

        foreach ((string key, JsonNode? value) in expected)
        {
            if (!actual.TryGetPropertyValue(key, out JsonNode? found))
            {
                problems.Add($"{file}: {key} is missing, expected {value?.ToJsonString() ?? "null"}");
            }
            else if (!JsonNode.DeepEquals(found, value) && !SameNumber(found, value))
            {
                problems.Add($"{file}: {key} is {found?.ToJsonString() ?? "null"}, expected {value?.ToJsonString() ?? "null"}");
            }
        }
    }

    // 1000 and 1000.0, 0.012 written by different serialisers: numbers compare by value.
    private static bool SameNumber(JsonNode? a, JsonNode? b) =>
        a is JsonValue x && b is JsonValue y && x.TryGetValue(out double p) && y.TryGetValue(out double q) && p == q;
}

/// <summary>Every way a pipeline folder differs from its manifest: folder-level problems and one report per weights file.</summary>
public sealed record PipelineReport(string Checkpoint, string Folder, IReadOnlyList<string> Problems, IReadOnlyList<ManifestReport> Weights)
{
    public bool IsValid => Problems.Count == 0 && Weights.All(w => w.IsValid);

    public override string ToString()
    {
        if (IsValid)
        {
            return $"{Folder} matches {Checkpoint} ({Weights.Count} weight files checked)";
        }

        var lines = new List<string> { $"{Folder} does not match {Checkpoint}:" };
        lines.AddRange(Problems.Select(p => $"  {p}"));
        lines.AddRange(Weights.Where(w => !w.IsValid).Select(w => "  " + w.ToString().Replace(Environment.NewLine, Environment.NewLine + "  ")));
        return string.Join(Environment.NewLine, lines);
    }
}

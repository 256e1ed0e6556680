using System.Text.Json;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>A diffusers pipeline folder's <c>model_index.json</c>: the pipeline class and which component folders it has.</summary>
public sealed class ModelIndex
{
    private readonly HashSet<string> _components;

    private ModelIndex(string folder, string className, HashSet<string> components, bool requiresAesthetics, bool forceZeros)
    {
        Folder = folder;
        ClassName = className;
        _components = components;
        RequiresAestheticsScore = requiresAesthetics;
        ForceZerosForEmptyPrompt = forceZeros;
    }

    public string Folder { get; }

    public string ClassName { get; }

    /// <summary>The SDXL refiner's flag: its time ids carry an aesthetic score instead of the target size.</summary>
    public bool RequiresAestheticsScore { get; }

    /// <summary>
    /// SDXL's <c>force_zeros_for_empty_prompt</c>: without a negative prompt, plain generation uses zero unconditional
    /// and pooled embeddings instead of encoding "". Absent from model_index.json, diffusers' SDXL pipelines take their
    /// constructor default, true; other pipelines have no such setting.
    /// </summary>
    public bool ForceZerosForEmptyPrompt { get; }

    public bool Has(string component) => _components.Contains(component);

    public string PathOf(string component) =>
        Has(component) ? Path.Combine(Folder, component) : throw new ModelConfigException($"{Folder}: the pipeline has no {component}");

    public static ModelIndex Load(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new ModelConfigException($"{folder} does not exist");
        }

        string path = Path.Combine(folder, "model_index.json");
        if (!File.Exists(path))
        {
            throw new ModelConfigException($"{folder} is not a diffusers pipeline folder: model_index.json is missing");
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement root = doc.RootElement;
            string className = root.TryGetProperty("_class_name", out JsonElement c) ? c.GetString() ?? "" : "";
            var components = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in root.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2 &&
                    p.Value[0].ValueKind == JsonValueKind.String && Directory.Exists(Path.Combine(folder, p.Name)))
                {
                    components.Add(p.Name);
                }
                else if (p.Value.ValueKind == JsonValueKind.Array && p.Value.GetArrayLength() == 2 && p.Value[0].ValueKind == JsonValueKind.String)
                {
                    throw new ModelConfigException($"{folder}: model_index.json names component '{p.Name}' but its folder is missing");
                }
            }

            bool aesthetics = root.TryGetProperty("requires_aesthetics_score", out JsonElement a) && a.ValueKind == JsonValueKind.True;
            bool forceZeros = root.TryGetProperty("force_zeros_for_empty_prompt", out JsonElement z) && z.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? z.ValueKind == JsonValueKind.True
                : className.StartsWith("StableDiffusionXL", StringComparison.Ordinal);
            foreach (string required in new[] { "unet", "vae", "scheduler" })
            {
                if (!components.Contains(required))
                {
                    throw new ModelConfigException($"{folder}: the pipeline has no {required}");
                }
            }

            return new ModelIndex(folder, className, components, aesthetics, forceZeros);
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path} is not valid JSON: {e.Message}", e);
        }
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using Viper.Runtime;

namespace Viper.Weights;

/// <summary>Expected name, shape and dtype of one tensor in a supported checkpoint.</summary>
public sealed record ManifestTensor(
    [property: JsonPropertyName("shape")] int[] Shape,
    [property: JsonPropertyName("dtype")] string DType);

/// <summary>
/// What a supported checkpoint component holds (weights-manifest/*.json): its files and every tensor's
/// name, shape and dtype as published. See weights-manifest/README.md for the format.
/// </summary>
public sealed record WeightsManifest(
    [property: JsonPropertyName("checkpoint")] string Checkpoint,
    [property: JsonPropertyName("files")] string[] Files,
    [property: JsonPropertyName("tensors")] SortedDictionary<string, ManifestTensor> Tensors)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static WeightsManifest Load(string path)
    {
        try
        {
            WeightsManifest? m = JsonSerializer.Deserialize<WeightsManifest>(File.ReadAllBytes(path), Json);
            if (m?.Tensors is null || m.Files is null || m.Checkpoint is null)
            {
                throw new WeightsException($"{path}: a manifest needs \"checkpoint\", \"files\" and \"tensors\"");
            }

            foreach ((string name, ManifestTensor t) in m.Tensors)
            {
                if (t.Shape is null || !DTypeExtensions.TryParseSafeTensorsName(t.DType ?? "", out _))
                {
                    throw new WeightsException($"{path}: manifest entry '{name}' needs a shape and a safetensors dtype");
                }
            }

            return m;
        }
        catch (JsonException e)
        {
            throw new WeightsException($"{path}: manifest is not valid JSON: {e.Message}");
        }
    }

    /// <summary>The manifest a checkpoint as it stands would have (used to write manifests for new checkpoints).</summary>
    public static WeightsManifest Describe(string checkpoint, WeightStore store) => new(
        checkpoint,
        store.Files.Select(Path.GetFileName).ToArray()!,
        new SortedDictionary<string, ManifestTensor>(
            store.Entries.ToDictionary(e => e.Name, e => new ManifestTensor(e.Shape.ToArray(), e.DType.SafeTensorsName())),
            StringComparer.Ordinal));

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Compares a checkpoint with this manifest. With <paramref name="anyFloatDType"/> a float tensor may
    /// be stored in another float dtype (the fp16 / bf16 variants of a published checkpoint).
    /// </summary>
    public ManifestReport Check(WeightStore store, bool anyFloatDType = true)
    {
        var missing = new List<string>();
        var misshaped = new List<string>();
        var wrongDType = new List<string>();
        foreach ((string name, ManifestTensor expected) in Tensors)
        {
            if (!store.Contains(name))
            {
                missing.Add(name);
                continue;
            }

            TensorEntry e = store.Entry(name);
            if (!e.Shape.Equals(new Shape(expected.Shape)))
            {
                misshaped.Add($"{name}: {e.Shape}, expected [{string.Join(", ", expected.Shape)}]");
            }

            DTypeExtensions.TryParseSafeTensorsName(expected.DType, out DType want);
            if (e.DType != want && !(anyFloatDType && want.IsFloat() && e.DType.IsFloat()))
            {
                wrongDType.Add($"{name}: {e.DType.SafeTensorsName()}, expected {expected.DType}");
            }
        }

        var unexpected = store.Names.Where(n => !Tensors.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        return new ManifestReport(Checkpoint, store.Source, missing, unexpected, misshaped, wrongDType);
    }
}

/// <summary>Every way a checkpoint differs from its manifest, tensor by tensor.</summary>
public sealed record ManifestReport(
    string Checkpoint,
    string Source,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Misshaped,
    IReadOnlyList<string> WrongDType)
{
    public bool IsValid => Missing.Count + Unexpected.Count + Misshaped.Count + WrongDType.Count == 0;

    public void ThrowIfInvalid()
    {
        if (!IsValid)
        {
            throw new WeightsException(ToString());
        }
    }

    public override string ToString()
    {
        if (IsValid)
        {
            return $"{Source} matches {Checkpoint}";
        }

        var lines = new List<string> { $"{Source} does not match {Checkpoint}:" };
        Section(lines, "missing", Missing);
        Section(lines, "unexpected", Unexpected);
        Section(lines, "wrong shape", Misshaped);
        Section(lines, "wrong dtype", WrongDType);
        return string.Join(Environment.NewLine, lines);
    }

    private static void Section(List<string> lines, string title, IReadOnlyList<string> items)
    {
        const int Shown = 20;
        if (items.Count == 0)
        {
            return;
        }

        lines.Add($"  {title} ({items.Count}):");
        lines.AddRange(items.Take(Shown).Select(i => $"    {i}"));
        if (items.Count > Shown)
        {
            lines.Add($"    … and {items.Count - Shown} more");
        }
    }
}

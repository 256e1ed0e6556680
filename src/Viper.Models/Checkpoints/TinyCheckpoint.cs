using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>Writes random-weight checkpoints in the exact on-disk layout of the real ones (config.json + model.safetensors).</summary>
public static class TinyCheckpoint
{
    /// <summary>The weight file variants a tiny checkpoint can be written as, and the dtype each stores.</summary>
    public static IReadOnlyDictionary<string, DType> Variants { get; } = new Dictionary<string, DType> { ["fp16"] = DType.F16, ["bf16"] = DType.BF16 };

    /// <summary>
    /// Builds <paramref name="component"/> on <paramref name="backend"/> from seeded random weights (System.Random's
    /// seeded sequence is fixed across .NET versions, so a seed names one checkpoint) and writes it to <paramref name="folder"/>;
    /// with <paramref name="variant"/> (fp16, bf16) only the variant file, as a variant-only download holds it.
    /// </summary>
    public static void Write(ClipComponent component, string folder, IBackend backend, int seed = 0, string? variant = null)
    {
        var weights = new RandomWeights(backend, DType.F32, seed);
        using (component.Build(weights))
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.json"), component.ConfigJson());
            if (component.Vision is { } vision)
            {
                // CLIPImageProcessor's file, cropping to the tower's image size (CLIP's mean and std), as a real download holds it.
                File.WriteAllText(Path.Combine(folder, "preprocessor_config.json"),
                    $$$"""{"crop_size": {"height": {{{vision.ImageSize}}}, "width": {{{vision.ImageSize}}}}, "do_center_crop": true, "do_normalize": true, "do_resize": true, "image_processor_type": "CLIPImageProcessor", "resample": 3, "size": {"shortest_edge": {{{vision.ImageSize}}}}}""");
            }
            WriteWeights(folder, "model", weights.Recorded, variant, $"tiny {component.Name}, seed {seed}");
        }
    }

    /// <summary>Writes <c>BASE[.variant].safetensors</c>; a variant stores every float tensor in its dtype, rounded once from f32.</summary>
    public static void WriteWeights(string folder, string baseName, IReadOnlyList<TensorData> tensors, string? variant, string description)
    {
        DType? stored = variant is null ? null
            : Variants.TryGetValue(variant, out DType d) ? d
            : throw new ArgumentException($"unknown weight variant '{variant}' ({string.Join(", ", Variants.Keys)})", nameof(variant));
        IReadOnlyList<TensorData> written = stored is { } dtype
            ? tensors.Select(t => t with { DType = dtype, Data = HostTensors.EncodeFloats(HostTensors.DecodeFloats(t.Data.Span, t.DType), dtype) }).ToList()
            : tensors;
        string file = variant is null ? $"{baseName}.safetensors" : $"{baseName}.{variant}.safetensors";
        SafeTensorsWriter.Write(Path.Combine(folder, file), written, new Dictionary<string, string> { ["format"] = "pt", ["viper"] = description });
    }
}

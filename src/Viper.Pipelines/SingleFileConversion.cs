using Viper.Models.Loading;
using Viper.Models.SingleFile;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>
/// Converts between a single-file checkpoint and a diffusers folder with the name maps the loader uses
/// (<see cref="SingleFileLayout"/>), tensors kept in their stored dtype, bit for bit: <see cref="ToFolder"/> is
/// diffusers' <c>from_single_file(…).save_pretrained(…)</c>, <see cref="ToSingleFile"/> its
/// scripts/convert_diffusers_to_original_stable_diffusion.py (and _sdxl) — also for SD2.x and the refiner.
/// Each component is held in memory while it is written.
/// </summary>
public static class SingleFileConversion
{
    private static readonly string[] WeightFiles = [".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".onnx"];

    /// <summary>Writes <paramref name="source"/> (a single file and its config folder) as a diffusers folder at <paramref name="output"/>.</summary>
    public static void ToFolder(PipelineSource source, string output, IBackend backend, Action<string>? onComponent = null, CancellationToken cancellationToken = default)
    {
        SingleFileCheckpoint file = source.SingleFile ?? throw new ArgumentException($"{source.Path} is already a diffusers folder", nameof(source));
        source.Check(backend);
        CopyConfigs(source.Index.Folder, output);
        foreach (ComponentTensors component in source.Components(backend)) // recorded once, by the check
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tensors = new List<TensorData>();
            foreach ((string name, Shape shape) in component.Tensors.OrderBy(n => n.Key, StringComparer.Ordinal))
            {
                TensorRecipe recipe = component.Map(name);
                TensorEntry entry = file.Reader.Entry(recipe.Source);
                tensors.Add(new TensorData(name, entry.DType, shape, recipe.Cut(file.Reader.Bytes(recipe.Source), entry.Shape, entry.DType)));
            }

            string folder = Path.Combine(output, component.Component);
            Directory.CreateDirectory(folder);
            SafeTensorsWriter.Write(Path.Combine(folder, PipelineSource.WeightsBaseName(component.Component) + ".safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            onComponent?.Invoke(component.Component);
        }
    }

    /// <summary>Writes the diffusers folder <paramref name="folder"/> as one original-layout .safetensors file of <paramref name="family"/>.</summary>
    public static void ToSingleFile(string folder, string output, SingleFileFamily family, string? variant = null)
    {
        using PipelineSource source = PipelineSource.Open(folder);
        var tensors = new Dictionary<string, (DType DType, Shape Shape, byte[] Bytes)>(StringComparer.Ordinal);
        foreach (string component in new[] { "unet", "vae" }.Concat(source.TextEncoders))
        {
            Func<string, TensorRecipe> map = component switch
            {
                "unet" => SingleFileLayout.UnetNames(source.UnetConfig),
                "vae" => SingleFileLayout.VaeNames(SingleFileLayout.VaePrefix, source.VaeConfig),
                _ => SingleFileLayout.TextEncoderNames(family, component, source.TextConfig(component)),
            };
            using WeightStore store = CheckpointFiles.Open(source.Index.PathOf(component), PipelineSource.WeightsBaseName(component), variant);
            foreach (TensorEntry e in store.Entries)
            {
                Place(tensors, map(e.Name), e, store.Bytes(e.Name));
            }
        }

        SafeTensorsWriter.Write(output, tensors.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => new TensorData(t.Key, t.Value.DType, t.Value.Shape, t.Value.Bytes)).ToList());
    }

    /// <summary>Puts a diffusers tensor where <paramref name="recipe"/> reads it from: a third of a fused in_proj, transposed, or unsqueezed to a 1×1 conv.</summary>
    private static void Place(Dictionary<string, (DType, Shape, byte[])> tensors, TensorRecipe recipe, TensorEntry e, ReadOnlySpan<byte> bytes)
    {
        if (recipe.Rows > 0)
        {
            int[] dims = e.Shape.ToArray();
            dims[0] = 3 * recipe.Rows;
            if (!tensors.TryGetValue(recipe.Source, out var fused))
            {
                fused = (e.DType, new Shape(dims), new byte[bytes.Length * 3]);
                tensors[recipe.Source] = fused;
            }

            bytes.CopyTo(fused.Item3.AsSpan(bytes.Length * (recipe.FirstRow / recipe.Rows)));
            return;
        }

        if (recipe.Transposed)
        {
            byte[] transposed = new TensorRecipe(recipe.Source) { Transposed = true }.Cut(bytes, e.Shape, e.DType);
            tensors[recipe.Source] = (e.DType, new Shape(e.Shape[1], e.Shape[0]), transposed);
            return;
        }

        Shape shape = recipe.Squeezed && e.Shape.Rank == 2 ? new Shape(e.Shape[0], e.Shape[1], 1, 1) : e.Shape;
        tensors[recipe.Source] = (e.DType, shape, bytes.ToArray());
    }

    /// <summary>The config folder's configs, tokenizers and model_index.json (no weights, no README).</summary>
    private static void CopyConfigs(string from, string to)
    {
        foreach (string path in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string name = Path.GetFileName(path);
            if (WeightFiles.Any(x => name.EndsWith(x, StringComparison.OrdinalIgnoreCase) || name.EndsWith(x + ".index.json", StringComparison.OrdinalIgnoreCase)) || name == "README.json")
            {
                continue;
            }

            string target = Path.Combine(to, Path.GetRelativePath(from, path));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(path, target, overwrite: true);
        }
    }
}

using Viper.Runtime;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Pipelines;

/// <summary>An embedding file to load and the token that stands for it in prompts (default: the file name without its extension).</summary>
public sealed record EmbeddingToken(string Path, string? Token = null)
{
    public string Name => Token ?? System.IO.Path.GetFileNameWithoutExtension(Path);
}

/// <summary>
/// A textual-inversion embedding as A1111 and diffusers users have them: A1111's <c>.pt</c>
/// (<c>string_to_param['*']</c>, a (vectors, width) tensor, often saved with requires_grad or as an nn.Parameter), its
/// <c>.safetensors</c> (<c>emb_params</c>), SDXL's pair (<c>clip_l</c> for text_encoder, <c>clip_g</c> for
/// text_encoder_2), and diffusers' learned_embeds (one tensor under the token's name). Read without running anything.
/// </summary>
public sealed record TextualInversion(string Token, string Source, float[][]? ClipL, float[][]? ClipG)
{
    public static TextualInversion Read(EmbeddingToken file)
    {
        string path = file.Path;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"embedding {path}: the file does not exist", path);
        }

        if (string.IsNullOrWhiteSpace(file.Name) || file.Name.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"embedding {path}: the token '{file.Name}' must be one word (no spaces)");
        }

        Dictionary<string, TensorData> tensors = Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase) ? FromSafeTensors(path) : FromTorch(path);
        TensorData? l = tensors.GetValueOrDefault("clip_l"), g = tensors.GetValueOrDefault("clip_g");
        if (l is null && g is null)
        {
            l = tensors.GetValueOrDefault("emb_params") ?? (tensors.Count == 1 ? tensors.Values.Single()
                : throw new WeightsException($"{path}: holds {tensors.Count} tensors ({string.Join(", ", tensors.Keys.Take(5))}) and none is emb_params, clip_l or clip_g"));
        }

        return new TextualInversion(file.Name, path, Vectors(l, path), Vectors(g, path));
    }

    private static float[][]? Vectors(TensorData? t, string path)
    {
        if (t is null)
        {
            return null;
        }

        if (!t.DType.IsFloat() || t.Shape.Rank is not (1 or 2) || t.Shape.ElementCount == 0 || t.Shape.ElementCount > 1 << 24)
        {
            throw new WeightsException($"{path}: '{t.Name}' is {t.Shape} {t.DType}; an embedding is a float (vectors, width) tensor");
        }

        int width = t.Shape[t.Shape.Rank - 1], count = (int)(t.Shape.ElementCount / width);
        float[] values = HostTensors.DecodeFloats(t.Data.Span, t.DType);
        return values.All(float.IsFinite)
            ? Enumerable.Range(0, count).Select(i => values[(i * width)..((i + 1) * width)]).ToArray()
            : throw new WeightsException($"{path}: '{t.Name}' holds a non-finite value");
    }

    private static Dictionary<string, TensorData> FromSafeTensors(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        return file.Tensors.ToDictionary(e => e.Name, e => new TensorData(e.Name, e.DType, e.Shape, file.Bytes(e).ToArray()), StringComparer.Ordinal);
    }

    // A1111: {"string_to_token": {"*": 265}, "string_to_param": {"*": tensor}, "name": …, "step": …}; diffusers: {token: tensor}.
    private static Dictionary<string, TensorData> FromTorch(string path)
    {
        using TorchArchive archive = TorchArchive.Open(path);
        if (archive.Value is not Dictionary<object, object?> root)
        {
            throw new WeightsException($"{path}: holds {TorchArchive.Describe(archive.Value)}, not an embedding dictionary");
        }

        Dictionary<object, object?> source = root.TryGetValue("string_to_param", out object? inner) && inner is Dictionary<object, object?> param ? param : root;
        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach ((object key, object? value) in source)
        {
            if (value is PickledTensor t)
            {
                string name = source == root ? key as string ?? "?" : "emb_params";
                tensors[name] = new TensorData(name, t.DType, t.Shape, archive.Read(t));
            }
        }

        return tensors.Count > 0 ? tensors : throw new WeightsException($"{path}: no embedding tensor (A1111's string_to_param, or a token → tensor dictionary)");
    }
}

using System.Text.Json;
using Viper.Runtime;

namespace Viper.Weights;

/// <summary>
/// Finds tensors by name across the files of one checkpoint (a single .safetensors file, a sharded
/// checkpoint through its *.safetensors.index.json, or a component folder holding one of those).
/// Models ask for tensors with the shape they expect; every tensor handed out is remembered, so the
/// ones nobody asked for can be reported as unexpected.
/// </summary>
public sealed class WeightStore : ITensorReader
{
    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, (SafeTensorsFile File, TensorEntry Entry)> _tensors = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private WeightStore(string source, List<SafeTensorsFile> files)
    {
        Source = source;
        _files = files;
        foreach (SafeTensorsFile f in files)
        {
            foreach (TensorEntry e in f.Tensors)
            {
                if (_tensors.TryGetValue(e.Name, out var other))
                {
                    throw new SafeTensorsFormatException(f.Path, $"tensor '{e.Name}' is also stored in {other.File.Path}");
                }

                _tensors[e.Name] = (f, e);
            }
        }
    }

    public string Source { get; }

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public IEnumerable<TensorEntry> Entries => _tensors.Values.Select(v => v.Entry);

    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();

    /// <summary>Each file's "__metadata__" entries, by file path.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Metadata =>
        _files.ToDictionary(f => f.Path, f => f.Metadata);

    /// <summary>Opens a .safetensors file, a *.safetensors.index.json, or a folder holding exactly one of them.</summary>
    public static WeightStore Open(string path)
    {
        if (Directory.Exists(path))
        {
            return Open(FindCheckpointIn(path));
        }

        if (path.EndsWith(".index.json", StringComparison.Ordinal))
        {
            return OpenSharded(path);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no checkpoint at {path}", path);
        }

        return new WeightStore(path, [SafeTensorsFile.Open(path)]);
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorEntry Entry(string name) => Find(name).Entry;

    public ReadOnlySpan<byte> Bytes(string name)
    {
        var (file, entry) = Find(name);
        _used.Add(name);
        return file.Bytes(entry);
    }

    /// <summary>The tensor's bytes after checking its shape; the error names the tensor and both shapes.</summary>
    public ReadOnlySpan<byte> Require(string name, Shape expected, out DType dtype)
    {
        TensorEntry e = Find(name).Entry;
        if (!e.Shape.Equals(expected))
        {
            throw new WeightsException($"{Source}: tensor '{name}' has shape {e.Shape}, expected {expected}", name, e.Shape, expected);
        }

        dtype = e.DType;
        return Bytes(name);
    }

    /// <summary>Uploads a tensor after checking its shape, cast to <paramref name="dtype"/> when given.</summary>
    public Tensor Load(IBackend backend, string name, Shape expected, DType? dtype = null)
    {
        ReadOnlySpan<byte> bytes = Require(name, expected, out DType stored);
        if (dtype is null || dtype == stored)
        {
            return backend.FromHost(bytes, expected, stored);
        }

        if (!stored.IsFloat() || !dtype.Value.IsFloat())
        {
            throw new WeightsException($"{Source}: tensor '{name}' is {stored}, cannot load it as {dtype}");
        }

        return backend.FromFloats(HostTensors.DecodeFloats(bytes, stored), expected, dtype.Value);
    }

    /// <summary>
    /// Loads a PyTorch conv weight stored (Cout, Cin, KH, KW) re-laid as (Cout, KH, KW, Cin), the layout the
    /// backends' NHWC convolution reads, so activations never need a permute.
    /// </summary>
    public Tensor LoadConvWeight(IBackend backend, string name, int cout, int cin, int kh, int kw, DType? dtype = null)
    {
        ReadOnlySpan<byte> oihw = Require(name, new Shape(cout, cin, kh, kw), out DType stored);
        byte[] ohwi = ConvWeightLayout.OihwToOhwi(oihw, cout, cin, kh, kw, stored.SizeInBytes());

        var shape = new Shape(cout, kh, kw, cin);
        if (dtype is null || dtype == stored)
        {
            return backend.FromHost(ohwi, shape, stored);
        }

        return backend.FromFloats(HostTensors.DecodeFloats(ohwi, stored), shape, dtype.Value);
    }

    /// <summary>Stored tensors no caller has asked for yet.</summary>
    public IReadOnlyList<string> Unused() => _tensors.Keys.Where(n => !_used.Contains(n)).Order(StringComparer.Ordinal).ToList();

    public void Dispose()
    {
        foreach (SafeTensorsFile f in _files)
        {
            f.Dispose();
        }
    }

    private (SafeTensorsFile File, TensorEntry Entry) Find(string name) =>
        _tensors.TryGetValue(name, out var found)
            ? found
            : throw new WeightsException($"{Source}: missing tensor '{name}'");

    private static string FindCheckpointIn(string folder)
    {
        string[] indexes = Directory.GetFiles(folder, "*.safetensors.index.json");
        string[] files = Directory.GetFiles(folder, "*.safetensors");
        string[] candidates = indexes.Length > 0 ? indexes : files;
        return candidates.Length switch
        {
            1 => candidates[0],
            0 => throw new FileNotFoundException($"{folder} holds no .safetensors file or index", folder),
            _ => throw new WeightsException(
                $"{folder} holds several checkpoints ({string.Join(", ", candidates.Select(Path.GetFileName))}); name the file to use"),
        };
    }

    private static WeightStore OpenSharded(string indexPath)
    {
        Dictionary<string, string> weightMap = ReadWeightMap(indexPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var files = new List<SafeTensorsFile>();
        try
        {
            foreach (string shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                if (shard.Contains('/') || shard.Contains('\\') || shard == "..")
                {
                    throw new SafeTensorsFormatException(indexPath, $"shard name '{shard}' must be a file name in the index's folder");
                }

                files.Add(SafeTensorsFile.Open(Path.Combine(folder, shard)));
            }

            foreach ((string tensor, string shard) in weightMap)
            {
                if (!files.First(f => Path.GetFileName(f.Path) == shard).Contains(tensor))
                {
                    throw new SafeTensorsFormatException(indexPath, $"the index puts '{tensor}' in {shard}, which does not hold it");
                }
            }

            var store = new WeightStore(indexPath, files);
            string? stray = store.Names.FirstOrDefault(n => !weightMap.ContainsKey(n));
            if (stray is not null)
            {
                store.Dispose();
                throw new SafeTensorsFormatException(indexPath, $"tensor '{stray}' is stored in a shard but missing from the index");
            }

            return store;
        }
        catch
        {
            files.ForEach(f => f.Dispose());
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsFormatException(indexPath, "index has no \"weight_map\" object");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafeTensorsFormatException(indexPath, $"weight_map entry '{p.Name}' is not a file name");
                }

                if (!result.TryAdd(p.Name, p.Value.GetString()!))
                {
                    throw new SafeTensorsFormatException(indexPath, $"weight_map lists '{p.Name}' twice");
                }
            }

            return result;
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(indexPath, $"index is not valid JSON: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new SafeTensorsFormatException(indexPath, $"cannot read index: {e.Message}", e);
        }
    }
}

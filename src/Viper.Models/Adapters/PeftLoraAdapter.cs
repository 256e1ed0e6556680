using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Adapters;

/// <summary>
/// A PEFT LoRA adapter folder as <c>save_pretrained</c> writes it: adapter_config.json and adapter_model.safetensors with
/// <c>base_model.model.&lt;module&gt;.lora_A.weight</c> (r, in) / <c>lora_B.weight</c> (out, r) per adapted linear layer,
/// and whole replacement tensors for <c>modules_to_save</c>. <see cref="CheckAgainst"/> matches it to a base checkpoint
/// before anything loads; then it is merged at load (<see cref="Merge"/>: W + scale·B·A in f32, rounded once) or
/// attached unmerged to the loaded linear layers (<see cref="Attach"/>).
/// </summary>
public sealed class PeftLoraAdapter : IDisposable
{
    private const string Prefix = "base_model.model.";

    private readonly WeightStore _store;
    private readonly Dictionary<string, (string Down, string Up)> _pairs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _replacements = new(StringComparer.Ordinal);
    private readonly List<string> _warnings = [];

    private PeftLoraAdapter(LoraConfig config, WeightStore store, string folder)
    {
        (Config, _store, Folder) = (config, store, folder);
    }

    public LoraConfig Config { get; }

    public string Folder { get; }

    /// <summary>The adapted linear modules (their names in the base model).</summary>
    public IReadOnlyCollection<string> Modules => _pairs.Keys;

    /// <summary>What PEFT would have warned about (fan_in_fan_out on nn.Linear layers, which it turns off).</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    public static PeftLoraAdapter Load(string folder)
    {
        LoraConfig config = LoraConfig.Load(Path.Combine(folder, "adapter_config.json"));
        string weights = Path.Combine(folder, "adapter_model.safetensors");
        if (!File.Exists(weights))
        {
            throw new FileNotFoundException($"adapter: {weights} is missing (adapter_model.bin pickles are not read: they can run code)", weights);
        }

        var adapter = new PeftLoraAdapter(config, WeightStore.Open(weights), folder);
        try
        {
            adapter.Index();
            return adapter;
        }
        catch
        {
            adapter.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Checks the adapter against a base checkpoint's tensor names and shapes: every key names a module the base has,
    /// every adapted module is one target_modules selects, every linear layer it selects has both matrices, and their
    /// shapes fit. The errors name the key.
    /// </summary>
    public void CheckAgainst(WeightStore baseWeights) =>
        CheckAgainst(baseWeights.Entries.ToDictionary(e => e.Name, e => QuantizedCheckpoint.LogicalShape(baseWeights, e.Name), StringComparer.Ordinal));

    /// <summary>
    /// The same check against a weights manifest (weights-manifest/idefics2-8b.json): whether an adapter fits a base
    /// model can be known before the base model is downloaded.
    /// </summary>
    public void CheckAgainst(WeightsManifest baseManifest) =>
        CheckAgainst(baseManifest.Tensors.ToDictionary(t => t.Key, t => new Shape(t.Value.Shape), StringComparer.Ordinal));

    private void CheckAgainst(Dictionary<string, Shape> baseShapes)
    {
        string[] linears = [.. baseShapes.Where(e => e.Value.Rank == 2 && e.Key.EndsWith(".weight", StringComparison.Ordinal))
            .Select(e => e.Key[..^".weight".Length]).Order(StringComparer.Ordinal)];
        string[] targeted = [.. linears.Where(Config.Targets)];
        if (targeted.Length == 0)
        {
            throw new InvalidDataException($"adapter {Folder}: target_modules matches no linear layer of the base model");
        }

        foreach ((string module, (string down, string up)) in _pairs)
        {
            if (!baseShapes.TryGetValue(module + ".weight", out Shape? w))
            {
                throw new InvalidDataException($"adapter {Folder}: '{down}' is for module '{module}', which the base model does not have");
            }

            if (!Config.Targets(module))
            {
                throw new InvalidDataException($"adapter {Folder}: '{down}' adapts '{module}', which target_modules does not select");
            }

            Shape a = _store.Entry(down).Shape, b = _store.Entry(up).Shape;
            if (w.Rank != 2 || a.Rank != 2 || b.Rank != 2 || a[1] != w[1] || b[0] != w[0] || a[0] != b[1])
            {
                throw new InvalidDataException($"adapter {Folder}: '{down}' {a} and '{up}' {b} do not fit '{module}.weight' {w} (A: (r, in), B: (out, r))");
            }
        }

        if (targeted.FirstOrDefault(m => !_pairs.ContainsKey(m)) is { } missing)
        {
            throw new InvalidDataException($"adapter {Folder}: target_modules selects '{missing}', but '{Prefix}{missing}.lora_A.weight' is not in the file");
        }

        foreach ((string replaced, string key) in _replacements)
        {
            if (!baseShapes.TryGetValue(replaced, out Shape? shape))
            {
                throw new InvalidDataException($"adapter {Folder}: '{key}' replaces '{replaced}', which the base model does not have");
            }

            if (!_store.Entry(key).Shape.Equals(shape))
            {
                throw new InvalidDataException($"adapter {Folder}: '{key}' {_store.Entry(key).Shape} cannot replace '{replaced}' {shape}");
            }
        }
    }

    /// <summary>A weight source over <paramref name="checkpoint"/> that hands out the adapted weights merged (f32 sum, one rounding to the model dtype).</summary>
    public WeightSource Merge(CheckpointWeights checkpoint) => new MergedLoraWeights(checkpoint, this, mergeLowRank: true);

    /// <summary>
    /// A weight source over <paramref name="checkpoint"/> with only the modules_to_save tensors replaced: the base for
    /// <see cref="Attach"/>, which adds the low-rank matrices to the loaded linear layers.
    /// </summary>
    public WeightSource ReplaceSavedModules(CheckpointWeights checkpoint) => new MergedLoraWeights(checkpoint, this, mergeLowRank: false);

    /// <summary>
    /// Puts the adapter on the loaded model's linear layers unmerged (load the model through <see cref="ReplaceSavedModules"/>
    /// so its modules_to_save tensors are the adapter's); the returned handle owns the adapter tensors.
    /// </summary>
    public IDisposable Attach(ParameterSet parameters, IBackend backend, DType dtype)
    {
        var owned = new List<Tensor>();
        var linears = new List<Linear>();
        foreach ((string module, (string down, string up)) in _pairs)
        {
            Linear linear = parameters.Linear(module);
            Tensor a = _store.Load(backend, down, _store.Entry(down).Shape, dtype), b = _store.Load(backend, up, _store.Entry(up).Shape, dtype);
            owned.Add(a);
            owned.Add(b);
            linear.Adapter = new LowRankAdapter(a, b, (float)Config.Scale(module));
            linears.Add(linear);
        }

        return new AttachedAdapter(linears, owned);
    }

    public void Dispose() => _store.Dispose();

    internal bool Adapts(string weightName, out string module) =>
        _pairs.ContainsKey(module = weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length] : weightName);

    internal (Tensor Down, Tensor Up, double Scale) Matrices(string module, IBackend backend)
    {
        (string down, string up) = _pairs[module];
        return (_store.Load(backend, down, _store.Entry(down).Shape, DType.F32), _store.Load(backend, up, _store.Entry(up).Shape, DType.F32), Config.Scale(module));
    }

    internal string? Replacement(string name) => _replacements.GetValueOrDefault(name);

    internal WeightStore Store => _store;

    // Sorts the file's keys into LoRA pairs and replacements; anything else is an error naming the key.
    private void Index()
    {
        if (Config.FanInFanOut)
        {
            _warnings.Add("fan_in_fan_out is set but the adapted layers are nn.Linear: ignored, as PEFT does");
        }

        var downs = new Dictionary<string, string>(StringComparer.Ordinal);
        var ups = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string key in _store.Names.Order(StringComparer.Ordinal))
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"adapter {Folder}: key '{key}' does not start with '{Prefix}' (not a PEFT save_pretrained file)");
            }

            string name = key[Prefix.Length..];
            if (name.EndsWith(".lora_A.weight", StringComparison.Ordinal))
            {
                downs[name[..^".lora_A.weight".Length]] = key;
            }
            else if (name.EndsWith(".lora_B.weight", StringComparison.Ordinal))
            {
                ups[name[..^".lora_B.weight".Length]] = key;
            }
            else if (Config.ModulesToSave.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal) || name.Contains("." + m + ".", StringComparison.Ordinal)))
            {
                _replacements[name] = key;
            }
            else
            {
                throw new InvalidDataException($"adapter {Folder}: key '{key}' is neither a lora_A/lora_B matrix nor a modules_to_save tensor (other LoRA variants are not supported)");
            }
        }

        foreach (string module in downs.Keys.Union(ups.Keys))
        {
            if (!downs.TryGetValue(module, out string? down) || !ups.TryGetValue(module, out string? up))
            {
                throw new InvalidDataException($"adapter {Folder}: module '{module}' has only one of lora_A and lora_B");
            }

            _pairs[module] = (down, up);
        }
    }

    private sealed class AttachedAdapter(List<Linear> linears, List<Tensor> owned) : IDisposable
    {
        public void Dispose()
        {
            linears.ForEach(l => l.Adapter = null);
            owned.ForEach(t => t.Dispose());
        }
    }
}

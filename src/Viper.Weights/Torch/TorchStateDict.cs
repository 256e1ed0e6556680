using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// A <c>.ckpt</c>/<c>.pt</c> state dict — the tensors of a dictionary, nested under <c>"state_dict"</c> as Lightning and
/// the original Stable Diffusion checkpoints save it — read through <see cref="TorchArchive"/>'s restricted unpickler.
/// Entries that are not tensors beside them (<c>global_step</c>, <c>epoch</c>) are ignored; a global the unpickler does not
/// allow (a Lightning callback, <c>os.system</c>) refuses the whole file before anything runs.
/// </summary>
public sealed class TorchStateDict : ITensorReader
{
    private readonly TorchArchive _archive;
    private readonly Dictionary<string, PickledTensor> _tensors;

    private TorchStateDict(TorchArchive archive, Dictionary<string, PickledTensor> tensors) => (_archive, _tensors) = (archive, tensors);

    public string Source => _archive.Source;

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public static TorchStateDict Open(string path)
    {
        TorchArchive archive = TorchArchive.Open(path);
        try
        {
            return new TorchStateDict(archive, Tensors(archive.Value, path));
        }
        catch
        {
            archive.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorEntry Entry(string name)
    {
        PickledTensor t = Find(name);
        long bytes = t.Shape.ElementCount * t.DType.SizeInBytes();
        return new TensorEntry(name, t.DType, t.Shape, 0, bytes);
    }

    public ReadOnlySpan<byte> Bytes(string name) => _archive.Read(Find(name));

    public void Dispose() => _archive.Dispose();

    private PickledTensor Find(string name) =>
        _tensors.TryGetValue(name, out PickledTensor? t) ? t : throw new WeightsException($"{Source}: missing tensor '{name}'");

    // diffusers' load_state_dict + `while "state_dict" in checkpoint: checkpoint = checkpoint["state_dict"]`.
    private static Dictionary<string, PickledTensor> Tensors(object? value, string source)
    {
        while (value is Dictionary<object, object?> d && d.TryGetValue("state_dict", out object? inner))
        {
            value = inner;
        }

        if (value is not Dictionary<object, object?> dict)
        {
            throw new TorchSaveFormatException(source, $"the file holds {RestrictedUnpickler.Describe(value)}, not a state dict");
        }

        var tensors = new Dictionary<string, PickledTensor>(StringComparer.Ordinal);
        foreach ((object key, object? entry) in dict)
        {
            if (entry is PickledTensor t)
            {
                tensors[key as string ?? throw new TorchSaveFormatException(source, $"a state dict key is {RestrictedUnpickler.Describe(key)}, not a name")] = t;
            }
        }

        return tensors.Count > 0 ? tensors : throw new TorchSaveFormatException(source, "the state dict holds no tensors");
    }
}

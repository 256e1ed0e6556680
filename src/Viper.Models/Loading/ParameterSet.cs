using Viper.Models.Layers;
using Viper.Runtime;

namespace Viper.Models.Loading;

/// <summary>
/// Every parameter a <see cref="WeightSource"/> handed out, by its checkpoint name (candle's VarMap), and every linear
/// layer by its module path — so adapters and training work on names, not fields. <see cref="Set"/> overwrites a
/// parameter in place (the model's next forward sees it; graphs recorded over it too) after keeping its original once;
/// <see cref="Restore"/> puts every original back bit for bit.
/// </summary>
public sealed class ParameterSet : IDisposable
{
    private readonly Dictionary<string, Parameter> _parameters = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<string, Linear> _linears = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> _originals = new(StringComparer.Ordinal);

    /// <summary>The checkpoint names, in the order the model asked for them.</summary>
    public IReadOnlyList<string> Names => _order;

    public int Count => _order.Count;

    /// <summary>The parameter as the backend holds it (conv weights re-laid (Cout, KH, KW, Cin); see <see cref="Info"/>).</summary>
    public Tensor this[string name] => Find(name).Tensor;

    public Parameter Info(string name) => Find(name);

    public bool Contains(string name) => _parameters.ContainsKey(name);

    /// <summary>Module paths of the linear layers (<c>text_model.encoder.layers.0.self_attn.q_proj</c>), for adapters.</summary>
    public IReadOnlyCollection<string> LinearPaths => _linears.Keys;

    public Linear Linear(string path) =>
        _linears.TryGetValue(path, out Linear? linear) ? linear : throw new KeyNotFoundException($"no linear layer '{path}' in this model");

    /// <summary>Overwrites parameter <paramref name="name"/> with <paramref name="value"/> (same shape and dtype, the backend's layout).</summary>
    public void Set(string name, Tensor value)
    {
        Parameter p = Find(name);
        if (!value.Shape.Equals(p.Tensor.Shape) || value.DType != p.Tensor.DType)
        {
            throw new ArgumentException($"parameter '{name}' is {p.Tensor.Shape} {p.Tensor.DType}; the new value is {value.Shape} {value.DType}", nameof(value));
        }

        p.Tensor.Backend.CopyInto(value, Edit(name));
    }

    /// <summary>
    /// The live tensor of parameter <paramref name="name"/> for updates in place (an optimizer step writes into it),
    /// its original value kept once for <see cref="Restore"/>.
    /// </summary>
    public Tensor Edit(string name)
    {
        Parameter p = Find(name);
        if (!_originals.ContainsKey(name))
        {
            _originals[name] = p.Tensor.Backend.Clone(p.Tensor);
        }

        return p.Tensor;
    }

    /// <summary>The names of the parameters changed since the last <see cref="Restore"/>.</summary>
    public IReadOnlyCollection<string> Changed => _originals.Keys;

    /// <summary>Puts back every original value <see cref="Set"/> replaced, bit for bit.</summary>
    public void Restore()
    {
        foreach ((string name, Tensor original) in _originals)
        {
            original.Backend.CopyInto(original, _parameters[name].Tensor);
            original.Dispose();
        }

        _originals.Clear();
    }

    /// <summary>Releases the kept originals (the parameters themselves belong to the model).</summary>
    public void Dispose()
    {
        foreach (Tensor original in _originals.Values)
        {
            original.Dispose();
        }

        _originals.Clear();
    }

    internal void Add(string name, Tensor tensor, Shape checkpointShape, bool convLayout)
    {
        if (!_parameters.TryAdd(name, new Parameter(name, tensor, checkpointShape, convLayout)))
        {
            throw new InvalidOperationException($"the model asked for '{name}' twice");
        }

        _order.Add(name);
    }

    internal void AddLinear(string path, Linear linear) => _linears[path] = linear;

    private Parameter Find(string name) =>
        _parameters.TryGetValue(name, out Parameter? p) ? p : throw new KeyNotFoundException($"no parameter '{name}' in this model");
}

/// <summary>A named parameter: the backend's tensor, the shape the checkpoint stores, and whether it is a re-laid conv weight.</summary>
public sealed record Parameter(string Name, Tensor Tensor, Shape CheckpointShape, bool ConvLayout);

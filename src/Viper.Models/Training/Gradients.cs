using Viper.Runtime;

namespace Viper.Models.Training;

/// <summary>
/// Parameter gradients by checkpoint name, filled by the layers' hand-written <c>Backward</c> methods (llm.c style, no
/// general autograd). Only the names <see cref="Wants"/> accepts get a weight gradient computed — a frozen layer (CLIP's
/// <c>text_projection</c> under aesthetic gradients) still passes its input gradient on. A parameter that receives two
/// gradients has them summed.
/// </summary>
public sealed class Gradients(Func<string, bool> wants) : IDisposable
{
    private readonly Dictionary<string, Tensor> _values = new(StringComparer.Ordinal);

    public bool Wants(string name) => wants(name);

    public IReadOnlyCollection<string> Names => _values.Keys;

    public Tensor this[string name] =>
        _values.TryGetValue(name, out Tensor? g) ? g : throw new KeyNotFoundException($"no gradient for '{name}' (not trained, or no backward pass reached it)");

    /// <summary>Takes over <paramref name="gradient"/> (added to an earlier one for the same name).</summary>
    public void Add(string name, Tensor gradient)
    {
        if (!_values.TryGetValue(name, out Tensor? earlier))
        {
            _values[name] = gradient;
            return;
        }

        _values[name] = gradient.Backend.Add(earlier, gradient);
        earlier.Dispose();
        gradient.Dispose();
    }

    public void Dispose()
    {
        foreach (Tensor g in _values.Values)
        {
            g.Dispose();
        }

        _values.Clear();
    }
}

using Viper.Runtime;

namespace Viper.Models.Loading;

/// <summary>
/// A weight source that hands out another source's tensors after <paramref name="transform"/> has seen each by name:
/// the hook where LoRA adapters are merged at load time (W + scale·B·A) or weights are otherwise rewritten. The
/// transform returns a new tensor (the loaded one is then released) or null to keep it. Conv weights pass through.
/// </summary>
public sealed class TransformedWeights(WeightSource inner, Func<string, Tensor, Tensor?> transform) : WeightSource(inner.Backend, inner.DType, inner.LinearWeights)
{
    protected internal override Tensor Read(string name, Shape shape)
    {
        Tensor loaded = inner.Read(name, shape);
        Tensor? replaced;
        try
        {
            replaced = transform(name, loaded);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }

        if (replaced is null || ReferenceEquals(replaced, loaded))
        {
            return loaded;
        }

        loaded.Dispose();
        return replaced.Shape.Equals(shape) && replaced.DType == DType
            ? replaced
            : throw new InvalidOperationException($"the transform of '{name}' returned {replaced.Shape} {replaced.DType}, not {shape} {DType}");
    }

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) => inner.ReadConv(name, cout, cin, kh, kw);
}

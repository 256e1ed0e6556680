using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>Parameters read from a safetensors checkpoint; a missing or mis-shaped tensor is a <see cref="WeightsException"/> naming it.</summary>
public sealed class CheckpointWeights(WeightStore store, IBackend backend, DType dtype) : WeightSource(backend, dtype)
{
    public WeightStore Store { get; } = store;

    protected internal override Tensor Read(string name, Shape shape) => Store.Load(Backend, name, shape, DType);

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) => Store.LoadConvWeight(Backend, name, cout, cin, kh, kw, DType);
}

using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.SingleFile;

/// <summary>
/// A weight source that finds each tensor a model asks for by its own (diffusers/transformers) name in a checkpoint of
/// another layout, through <paramref name="map"/>: the rename, slice or transpose happens per tensor as it loads, so
/// memory stays what loading a folder costs. Each stored tensor read is noted in <paramref name="used"/>.
/// </summary>
public sealed class MappedWeights(ITensorReader reader, Func<string, TensorRecipe> map, ISet<string> used, IBackend backend, DType dtype,
    DType? linearWeights = null, CancellationToken cancellationToken = default) : WeightSource(backend, dtype, linearWeights)
{
    protected internal override Tensor Read(string name, Shape shape)
    {
        (byte[] bytes, DType stored) = Cut(name, shape);
        return Upload(bytes, shape, stored);
    }

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw)
    {
        (byte[] oihw, DType stored) = Cut(name, new Shape(cout, cin, kh, kw));
        return Upload(ConvWeightLayout.OihwToOhwi(oihw, cout, cin, kh, kw, stored.SizeInBytes()), new Shape(cout, kh, kw, cin), stored);
    }

    private (byte[] Bytes, DType DType) Cut(string name, Shape shape)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TensorRecipe recipe = map(name);
        if (!reader.Contains(recipe.Source))
        {
            throw new WeightsException($"{reader.Source}: missing tensor '{recipe.Source}' (the model's '{name}')");
        }

        TensorEntry entry = reader.Entry(recipe.Source);
        if (!recipe.Fits(entry.Shape, shape))
        {
            throw new WeightsException($"{reader.Source}: tensor '{recipe.Source}' has shape {entry.Shape}, which does not give the model's '{name}' of {shape}",
                recipe.Source, entry.Shape, shape);
        }

        if (!entry.DType.IsFloat())
        {
            throw new WeightsException($"{reader.Source}: tensor '{recipe.Source}' is {entry.DType}, not a float tensor");
        }

        used.Add(recipe.Source);
        return (recipe.Cut(reader.Bytes(recipe.Source), entry.Shape, entry.DType), entry.DType);
    }

    private Tensor Upload(byte[] bytes, Shape shape, DType stored) =>
        stored == DType ? Backend.FromHost(bytes, shape, stored) : Backend.FromFloats(HostTensors.DecodeFloats(bytes, stored), shape, DType);
}

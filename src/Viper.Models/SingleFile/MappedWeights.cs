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
        (TensorRecipe recipe, TensorEntry entry) = Find(name, shape);
        ReadOnlySpan<byte> stored = reader.Bytes(recipe.Source);
        // A renamed tensor is uploaded straight from the file's (mapped) bytes; only a slice or transpose is copied first.
        return recipe.Rows > 0 || recipe.Transposed ? Upload(recipe.Cut(stored, entry.Shape, entry.DType), shape, entry.DType) : Upload(stored, shape, entry.DType);
    }

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw)
    {
        (TensorRecipe recipe, TensorEntry entry) = Find(name, new Shape(cout, cin, kh, kw));
        byte[] ohwi = ConvWeightLayout.OihwToOhwi(reader.Bytes(recipe.Source), cout, cin, kh, kw, entry.DType.SizeInBytes());
        return Upload(ohwi, new Shape(cout, kh, kw, cin), entry.DType);
    }

    private (TensorRecipe Recipe, TensorEntry Entry) Find(string name, Shape shape)
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
        return (recipe, entry);
    }

    private Tensor Upload(ReadOnlySpan<byte> bytes, Shape shape, DType stored) =>
        stored == DType ? Backend.FromHost(bytes, shape, stored) : Backend.FromFloats(HostTensors.DecodeFloats(bytes, stored), shape, DType);
}

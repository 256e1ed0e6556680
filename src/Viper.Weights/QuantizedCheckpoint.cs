using Viper.Runtime;

namespace Viper.Weights;

/// <summary>
/// How a checkpoint stores linear weights in a weight format. int8 and FP8 use safetensors' own dtypes (I8, F8_E4M3)
/// with an F32 <c>&lt;name&gt;_scale</c> of shape (out, 1) per channel or (1) per tensor, as compressed-tensors / vLLM FP8
/// checkpoints do. safetensors has no dtype for llama.cpp's blocks, so Q8_0/Q4_0 are U8 tensors (out, blocks·block bytes)
/// whose format the header's metadata names: <c>"viper.format.&lt;name&gt;": "q4_0"</c>.
/// </summary>
public static class QuantizedCheckpoint
{
    private const string FormatKeyPrefix = "viper.format.";

    public static string FormatKey(string tensorName) => FormatKeyPrefix + tensorName;

    /// <summary>The weight format tensor <paramref name="name"/> is stored in, or null for a plain tensor.</summary>
    public static DType? StoredFormat(WeightStore store, string name)
    {
        TensorEntry entry = store.Entry(name);
        if (entry.DType is DType.I8 or DType.F8E4M3 or DType.F8E5M2)
        {
            return entry.DType;
        }

        foreach (IReadOnlyDictionary<string, string> metadata in store.Metadata.Values)
        {
            if (metadata.TryGetValue(FormatKey(name), out string? label))
            {
                return label switch
                {
                    "q8_0" => DType.Q8_0,
                    "q4_0" => DType.Q4_0,
                    _ => throw new WeightsException($"{store.Source}: tensor '{name}' is in an unknown block format '{label}' (q8_0, q4_0 are known)"),
                };
            }
        }

        return null;
    }

    /// <summary>The shape a tensor stands for: a block format's U8 (out, bytes) is (out, in) values.</summary>
    public static Shape LogicalShape(WeightStore store, string name)
    {
        TensorEntry entry = store.Entry(name);
        return StoredFormat(store, name) is { } format && format.BlockSize() > 1
            ? new Shape(entry.Shape[0], entry.Shape[1] / format.BlockBytes() * format.BlockSize())
            : entry.Shape;
    }

    /// <summary>
    /// Uploads a stored weight (out, in) as its format and its scale (as (out) or (1)); the stored shape, the block geometry
    /// and the scale are checked against <paramref name="expected"/> first, each error naming the tensor.
    /// </summary>
    public static (Tensor Weight, Tensor? Scale) Load(WeightStore store, IBackend backend, string name, Shape expected, DType format)
    {
        Shape stored = format.BlockSize() > 1 ? new Shape(expected[0], (int)format.BytesFor(expected[1])) : expected;
        if (format.BlockSize() > 1 && expected[1] % format.BlockSize() != 0)
        {
            throw new WeightsException($"{store.Source}: tensor '{name}' is {format.Label()}, which needs a multiple of {format.BlockSize()} columns, not {expected[1]}");
        }

        ReadOnlySpan<byte> bytes = store.Require(name, stored, out _);
        Tensor weight = backend.FromHost(bytes, expected, format);
        if (!format.NeedsScale())
        {
            return (weight, null);
        }

        string scaleName = name + "_scale";
        if (!store.Contains(scaleName))
        {
            weight.Dispose();
            throw new WeightsException($"{store.Source}: tensor '{name}' is {format.Label()} but '{scaleName}' is missing");
        }

        TensorEntry scale = store.Entry(scaleName);
        long count = scale.Shape.ElementCount;
        if (scale.DType != DType.F32 || (count != 1 && count != expected[0]) || (count != 1 && scale.Shape.Rank == 2 && scale.Shape[1] != 1))
        {
            weight.Dispose();
            throw new WeightsException($"{store.Source}: '{scaleName}' is {scale.Shape} {scale.DType}; F32 ({expected[0]}, 1) per channel or (1) per tensor is expected");
        }

        return (weight, backend.FromHost(store.Bytes(scaleName), new Shape((int)count), DType.F32));
    }
}

using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Writes a loaded model's parameters back as a safetensors checkpoint under their checkpoint names and shapes (conv
/// weights re-laid (Cout, Cin, KH, KW)), weight formats as <see cref="QuantizedCheckpoint"/> names them, so the model
/// loads it back as it is now, with no conversion.
/// </summary>
public static class CheckpointWriter
{
    /// <param name="extra">Stored tensors the model did not ask for, written as they were (raw bytes).</param>
    public static void Write(ParameterSet parameters, string path, IReadOnlyList<TensorData>? extra = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = new List<TensorData>();
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (string name in parameters.Names)
        {
            Parameter p = parameters.Info(name);
            byte[] bytes = p.Tensor.ToBytes();
            DType dtype = p.Tensor.DType;
            Shape shape = p.CheckpointShape;
            if (p.ConvLayout)
            {
                bytes = ConvWeightLayout.OhwiToOihw(bytes, shape[0], shape[1], shape[2], shape[3], dtype.SizeInBytes());
            }
            else if (dtype.BlockSize() > 1)
            {
                meta[QuantizedCheckpoint.FormatKey(name)] = dtype.Label();
                shape = new Shape(shape[0], (int)dtype.BytesFor(shape[1]));
                dtype = DType.U8;
            }

            tensors.Add(new TensorData(name, dtype, shape, bytes));
        }

        tensors.AddRange(extra ?? []);
        SafeTensorsWriter.Write(path, tensors, meta);
    }
}

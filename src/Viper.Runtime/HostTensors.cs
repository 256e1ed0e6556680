using System.Runtime.InteropServices;

namespace Viper.Runtime;

/// <summary>Moving host arrays in and out of any backend, converting through f32 for float dtypes.</summary>
public static class HostTensors
{
    public static Tensor FromFloats(this IBackend backend, ReadOnlySpan<float> values, Shape shape, DType dtype = DType.F32)
    {
        if (values.Length != shape.ElementCount)
        {
            throw new ArgumentException($"{values.Length} values for shape {shape}");
        }

        return backend.FromHost(EncodeFloats(values, dtype), shape, dtype);
    }

    public static Tensor FromInts(this IBackend backend, ReadOnlySpan<int> values, Shape shape)
    {
        if (values.Length != shape.ElementCount)
        {
            throw new ArgumentException($"{values.Length} values for shape {shape}");
        }

        return backend.FromHost(MemoryMarshal.AsBytes(values), shape, DType.I32);
    }

    /// <summary>I32 values as the bytes of an I32 tensor (for <see cref="IGraphCapture.CopyFromHost"/>).</summary>
    public static byte[] EncodeInts(ReadOnlySpan<int> values) => MemoryMarshal.AsBytes(values).ToArray();

    public static byte[] ToBytes(this Tensor tensor)
    {
        byte[] bytes = new byte[tensor.SizeInBytes];
        tensor.Backend.CopyToHost(tensor, bytes);
        return bytes;
    }

    /// <summary>The tensor's values widened to f32 (float and integer dtypes).</summary>
    public static float[] ToFloats(this Tensor tensor) => DecodeFloats(tensor.ToBytes(), tensor.DType);

    public static int[] ToInts(this Tensor tensor)
    {
        byte[] bytes = tensor.ToBytes();
        return tensor.DType switch
        {
            DType.I32 => MemoryMarshal.Cast<byte, int>(bytes).ToArray(),
            DType.I64 => Array.ConvertAll(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), v => checked((int)v)),
            _ => throw new ArgumentException($"ToInts needs an integer tensor, got {tensor.DType}"),
        };
    }

    public static byte[] EncodeFloats(ReadOnlySpan<float> values, DType dtype)
    {
        byte[] bytes = new byte[values.Length * dtype.SizeInBytes()];
        EncodeFloats(values, dtype, bytes);
        return bytes;
    }

    /// <summary>Float values (f32, f16, bf16) decoded into <paramref name="destination"/>, no allocation.</summary>
    public static void DecodeFloats(ReadOnlySpan<byte> bytes, DType dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case DType.F16:
                FloatBits.F16ToF32(MemoryMarshal.Cast<byte, ushort>(bytes), destination);
                break;
            case DType.BF16:
                FloatBits.BF16ToF32(MemoryMarshal.Cast<byte, ushort>(bytes), destination);
                break;
            default:
                throw new ArgumentException($"{dtype.Label()} is not a float dtype");
        }
    }

    /// <summary>Floats encoded as f32, f16 or bf16 into <paramref name="destination"/>, no allocation.</summary>
    public static void EncodeFloats(ReadOnlySpan<float> values, DType dtype, Span<byte> destination)
    {
        switch (dtype)
        {
            case DType.F32:
                MemoryMarshal.AsBytes(values).CopyTo(destination);
                break;
            case DType.F16:
                FloatBits.F32ToF16(values, MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            case DType.BF16:
                FloatBits.F32ToBF16(values, MemoryMarshal.Cast<byte, ushort>(destination));
                break;
            default:
                throw new ArgumentException($"cannot encode floats as {dtype}");
        }
    }

    public static float[] DecodeFloats(ReadOnlySpan<byte> bytes, DType dtype)
    {
        float[] values = new float[bytes.Length / dtype.SizeInBytes()];
        switch (dtype)
        {
            case DType.F32 or DType.F16 or DType.BF16:
                DecodeFloats(bytes, dtype, values);
                break;
            case DType.I32:
                ReadOnlySpan<int> ints = MemoryMarshal.Cast<byte, int>(bytes);
                for (int i = 0; i < values.Length; i++) values[i] = ints[i];
                break;
            case DType.I64:
                ReadOnlySpan<long> longs = MemoryMarshal.Cast<byte, long>(bytes);
                for (int i = 0; i < values.Length; i++) values[i] = longs[i];
                break;
            case DType.U8:
            case DType.Bool:
                for (int i = 0; i < values.Length; i++) values[i] = bytes[i];
                break;
            case DType.I8:
                for (int i = 0; i < values.Length; i++) values[i] = (sbyte)bytes[i];
                break;
            case DType.F8E4M3:
                for (int i = 0; i < values.Length; i++) values[i] = Quantization.Fp8.E4M3ToF32(bytes[i]);
                break;
            case DType.F8E5M2:
                for (int i = 0; i < values.Length; i++) values[i] = Quantization.Fp8.E5M2ToF32(bytes[i]);
                break;
            default:
                throw new ArgumentException($"{dtype.Label()} values decode with their scales (WeightQuantizer.Dequantize)");
        }

        return values;
    }
}

using System.Runtime.InteropServices;

namespace Viper.Runtime;

/// <summary>
/// Dtype conversion of host bytes with PyTorch's .to(dtype) rules: floats round to nearest even, floats to
/// integers truncate toward zero (NaN → 0), anything to bool is "≠ 0". Every backend uses it for casts that
/// involve integer or bool dtypes, so they agree exactly.
/// </summary>
public static class HostCasts
{
    public static byte[] Convert(ReadOnlySpan<byte> source, DType from, DType to)
    {
        if (from.IsFloat() && to.IsFloat())
        {
            return HostTensors.EncodeFloats(HostTensors.DecodeFloats(source, from), to);
        }

        double[] values = from == DType.I64
            ? Array.ConvertAll(MemoryMarshal.Cast<byte, long>(source).ToArray(), v => (double)v)
            : Array.ConvertAll(HostTensors.DecodeFloats(source, from), v => (double)v);
        byte[] result = new byte[values.Length * to.SizeInBytes()];
        switch (to)
        {
            case DType.F32 or DType.F16 or DType.BF16:
                HostTensors.EncodeFloats(Array.ConvertAll(values, v => (float)v), to).CopyTo(result, 0);
                break;
            case DType.I32:
                Array.ConvertAll(values, v => double.IsNaN(v) ? 0 : (int)Math.Truncate(v)).AsSpan().CopyTo(MemoryMarshal.Cast<byte, int>(result.AsSpan()));
                break;
            case DType.I64:
                Array.ConvertAll(values, v => double.IsNaN(v) ? 0 : (long)Math.Truncate(v)).AsSpan().CopyTo(MemoryMarshal.Cast<byte, long>(result.AsSpan()));
                break;
            case DType.U8:
                for (int i = 0; i < values.Length; i++) result[i] = double.IsNaN(values[i]) ? (byte)0 : unchecked((byte)(long)Math.Truncate(values[i]));
                break;
            case DType.Bool:
                for (int i = 0; i < values.Length; i++) result[i] = values[i] != 0 ? (byte)1 : (byte)0;
                break;
        }

        return result;
    }
}

using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public Tensor Argmax(Tensor x)
    {
        OpChecks.Float("argmax", x, "x");
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        int[] result = new int[x.Shape.Rows];
        float* xp = xs.Pointer;
        ParallelRows(result.Length, row => result[row] = TensorPrimitives.IndexOfMax(new ReadOnlySpan<float>(xp + (row * c), c)));
        return this.FromInts(result, new Shape(x.Shape.ToArray()[..^1]));
    }

    public Tensor Mean(Tensor x)
    {
        OpChecks.Float("mean", x, "x");
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(new Shape(x.Shape.ToArray()[..^1]), x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, row =>
        {
            double sum = 0;
            for (int j = 0; j < c; j++)
            {
                sum += xp[(row * c) + j];
            }

            yp[row] = (float)(sum / c);
        });
        return y.Finish();
    }

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f)
    {
        OpChecks.Float("l2_normalize", x, "x");
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, row =>
        {
            double sq = 0;
            for (int j = 0; j < c; j++)
            {
                sq += (double)xp[(row * c) + j] * xp[(row * c) + j];
            }

            float norm = MathF.Max((float)Math.Sqrt(sq), eps);
            TensorPrimitives.Divide(new ReadOnlySpan<float>(xp + (row * c), c), norm, new Span<float>(yp + (row * c), c));
        });
        return y.Finish();
    }

    /// <summary>
    /// Casts as PyTorch's .to(dtype): floats round to nearest even, floats to integers truncate
    /// toward zero (NaN → 0), anything to bool is "≠ 0".
    /// </summary>
    public Tensor Cast(Tensor x, DType dtype)
    {
        OpChecks.SameBackend(this, x);
        if (x.DType.IsFloat() && dtype.IsFloat())
        {
            using F32Input xs = Read(x);
            F32Output y = Write(x.Shape, dtype);
            xs.Span.CopyTo(y.Span);
            return y.Finish();
        }

        double[] values = ReadAsDouble(x);
        Tensor result = Allocate(x.Shape, dtype, zeroed: false);
        byte* p = Ptr(result);
        int n = values.Length;
        switch (dtype)
        {
            case DType.F32 or DType.F16 or DType.BF16:
                byte[] encoded = HostTensors.EncodeFloats(values.Select(v => (float)v).ToArray(), dtype);
                encoded.CopyTo(new Span<byte>(p, encoded.Length));
                break;
            case DType.I32:
                for (int i = 0; i < n; i++) ((int*)p)[i] = double.IsNaN(values[i]) ? 0 : (int)Math.Truncate(values[i]);
                break;
            case DType.I64:
                for (int i = 0; i < n; i++) ((long*)p)[i] = double.IsNaN(values[i]) ? 0 : (long)Math.Truncate(values[i]);
                break;
            case DType.U8:
                for (int i = 0; i < n; i++) p[i] = double.IsNaN(values[i]) ? (byte)0 : unchecked((byte)(long)Math.Truncate(values[i]));
                break;
            case DType.Bool:
                for (int i = 0; i < n; i++) p[i] = values[i] != 0 ? (byte)1 : (byte)0;
                break;
        }

        return result;
    }

    private static double[] ReadAsDouble(Tensor x)
    {
        byte[] bytes = x.ToBytes();
        return x.DType switch
        {
            DType.I64 => MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(v => (double)v).ToArray(),
            _ => HostTensors.DecodeFloats(bytes, x.DType).Select(v => (double)v).ToArray(),
        };
    }
}

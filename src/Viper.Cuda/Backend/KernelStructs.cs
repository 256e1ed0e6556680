using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Viper.Runtime;
using Viper.Runtime.Guidance;

namespace Viper.Cuda.Backend;

/// <summary>common.cuh's AttentionMasks, passed by value: key mask (B, Tk) I32, bias (B, heads, Tq, Tk) f32, bias heads (1 or Hq).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct AttentionMasks
{
    public IntPtr KeyMask;
    public IntPtr Bias;
    public int BiasHeads;
    public int Unused;
}

/// <summary>common.cuh's Strides: rank, then up to 8 output dims and 8 source strides (int64), passed by value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KernelStrides
{
    public const int MaxRank = 8;

    public int Rank;
    public Int64x8 Dims;
    public Int64x8 Strides;

    public static KernelStrides From(Shape output, long[] strides)
    {
        if (output.Rank > MaxRank)
        {
            throw new ArgumentException($"tensors of rank {output.Rank} exceed the kernels' limit of {MaxRank}");
        }

        var s = new KernelStrides { Rank = output.Rank };
        for (int i = 0; i < output.Rank; i++)
        {
            s.Dims[i] = output[i];
            s.Strides[i] = strides[i];
        }

        return s;
    }

    [InlineArray(MaxRank)]
    public struct Int64x8
    {
        private long _element;
    }
}

/// <summary>im2col.cu's ConvShape: ten ints in declaration order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct KernelConvShape(int H, int W, int Cin, int KH, int KW, int Stride, int PadTop, int PadLeft, int Ho, int Wo);

/// <summary>guidance.cu's GuidanceStep: six floats in declaration order (w, β₊, β₋, a, b, c).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct KernelGuidanceStep(float W, float BetaPositive, float BetaNegative, float A, float B, float C)
{
    public KernelGuidanceStep(GuidanceStep s)
        : this(s.W, s.BetaPositive, s.BetaNegative, s.Update.A, s.Update.B, s.Update.C)
    {
    }
}

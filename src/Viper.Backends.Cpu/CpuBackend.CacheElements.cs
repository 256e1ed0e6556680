using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>The element types a KV cache is stored in, as the decode attention's loops read them (<see cref="DecodeAttention"/>).</summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>How the keys and values of a cache are stored: eight or one of them read as f32.</summary>
    private interface IRowElements
    {
        static abstract int Bytes { get; }

        static abstract Vector256<float> Eight(byte* row, int at);

        static abstract float One(byte* row, int at);
    }

    private struct BF16Elements : IRowElements
    {
        public static int Bytes => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Eight(byte* row, int at) => (Vector256.WidenLower(Vector128.Load((ushort*)row + at).ToVector256()) << 16).AsSingle();

        public static float One(byte* row, int at) => FloatBits.BF16ToF32(((ushort*)row)[at]);
    }

    private struct F16Elements : IRowElements
    {
        public static int Bytes => 2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Eight(byte* row, int at) => F16Weights.HalfBits(Vector256.WidenLower(Vector128.Load((ushort*)row + at).ToVector256()));

        public static float One(byte* row, int at) => FloatBits.F16ToF32(((ushort*)row)[at]);
    }

    private struct F32Elements : IRowElements
    {
        public static int Bytes => 4;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Eight(byte* row, int at) => Vector256.Load((float*)row + at);

        public static float One(byte* row, int at) => ((float*)row)[at];
    }
}

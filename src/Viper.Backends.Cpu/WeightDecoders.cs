using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// Decodes 32 consecutive weights of a row (starting at value <c>at</c>, a multiple of 32) into four f32 vectors, in
/// registers. One struct per storage format so the streaming GEMV is compiled once per format (static abstract
/// members specialize per struct). Q8_0/Q4_0 apply their block scale here, so decoded values equal the dequantized
/// reference bit for bit; int8 and FP8 decode the bare codes and the per-channel scale multiplies the finished dot.
/// </summary>
internal unsafe interface IWeightDecoder
{
    static abstract DType Format { get; }

    static abstract void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3);

    /// <summary>The same 32 values as two AVX-512 vectors (only called when <see cref="Avx512F"/> is supported).</summary>
    static abstract void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi);

    /// <summary>One value of a row without its per-channel scale, for a tail shorter than 32 (per-element formats only).</summary>
    static abstract float Decode1(byte* row, int at);
}

internal unsafe struct BF16Weights : IWeightDecoder
{
    public static DType Format => DType.BF16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        ushort* p = (ushort*)row + at;
        (Vector256<uint> a, Vector256<uint> b) = Vector256.Widen(Vector256.Load(p));
        (Vector256<uint> c, Vector256<uint> d) = Vector256.Widen(Vector256.Load(p + 16));
        (w0, w1, w2, w3) = ((a << 16).AsSingle(), (b << 16).AsSingle(), (c << 16).AsSingle(), (d << 16).AsSingle());
    }

    public static float Decode1(byte* row, int at) => FloatBits.BF16ToF32(((ushort*)row)[at]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        ushort* p = (ushort*)row + at;
        lo = (Avx512F.ConvertToVector512UInt32(Vector256.Load(p)) << 16).AsSingle();
        hi = (Avx512F.ConvertToVector512UInt32(Vector256.Load(p + 16)) << 16).AsSingle();
    }
}

internal unsafe struct F16Weights : IWeightDecoder
{
    public static DType Format => DType.F16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        ushort* p = (ushort*)row + at;
        (Vector256<uint> a, Vector256<uint> b) = Vector256.Widen(Vector256.Load(p));
        (Vector256<uint> c, Vector256<uint> d) = Vector256.Widen(Vector256.Load(p + 16));
        (w0, w1, w2, w3) = (HalfBits(a), HalfBits(b), HalfBits(c), HalfBits(d));
    }

    public static float Decode1(byte* row, int at) => FloatBits.F16ToF32(((ushort*)row)[at]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        ushort* p = (ushort*)row + at;
        lo = HalfBits(Avx512F.ConvertToVector512UInt32(Vector256.Load(p)));
        hi = HalfBits(Avx512F.ConvertToVector512UInt32(Vector256.Load(p + 16)));
    }

    /// <summary><see cref="HalfBits(Vector256{uint})"/> sixteen at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> HalfBits(Vector512<uint> h)
    {
        Vector512<uint> magnitude = (h & Vector512.Create(0x7FFFu)) << 13;
        Vector512<float> scaled = magnitude.AsSingle() * Vector512.Create(5.192297e33f); // 2^112
        Vector512<uint> special = Vector512.Equals(h & Vector512.Create(0x7C00u), Vector512.Create(0x7C00u));
        Vector512<uint> bits = Vector512.ConditionalSelect(special, magnitude | Vector512.Create(0x7F800000u), scaled.AsUInt32());
        return (bits | ((h & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <summary>
    /// f16 bits (zero-extended) → f32, exactly: the magnitude shifted into f32 position and scaled by 2¹¹² is right for
    /// normals and subnormals alike; an all-ones exponent becomes f32's (infinity or NaN, payload kept).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> HalfBits(Vector256<uint> h)
    {
        Vector256<uint> magnitude = (h & Vector256.Create(0x7FFFu)) << 13;
        Vector256<float> scaled = magnitude.AsSingle() * Vector256.Create(5.192297e33f); // 2^112
        Vector256<uint> special = Vector256.Equals(h & Vector256.Create(0x7C00u), Vector256.Create(0x7C00u));
        Vector256<uint> bits = Vector256.ConditionalSelect(special, magnitude | Vector256.Create(0x7F800000u), scaled.AsUInt32());
        return (bits | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }
}

internal unsafe struct Int8Weights : IWeightDecoder
{
    public static DType Format => DType.I8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3) =>
        Bytes.Signed(Vector256.Load((sbyte*)row + at), out w0, out w1, out w2, out w3);

    public static float Decode1(byte* row, int at) => ((sbyte*)row)[at];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi) =>
        Bytes.SignedWide((sbyte*)row + at, out lo, out hi);
}

internal unsafe struct Q8_0Weights : IWeightDecoder
{
    public static DType Format => DType.Q8_0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        byte* block = row + (at / 32 * 34);
        Vector256<float> d = Vector256.Create(HalfTable.Value(*(ushort*)block));
        Bytes.Signed(Vector256.Load((sbyte*)(block + 2)), out w0, out w1, out w2, out w3);
        (w0, w1, w2, w3) = (w0 * d, w1 * d, w2 * d, w3 * d);
    }

    public static float Decode1(byte* row, int at) => throw new InvalidOperationException("q8_0 rows are whole blocks");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        byte* block = row + (at / 32 * 34);
        Vector512<float> d = Vector512.Create(HalfTable.Value(*(ushort*)block));
        Bytes.SignedWide((sbyte*)(block + 2), out lo, out hi);
        (lo, hi) = (lo * d, hi * d);
    }
}

internal unsafe struct Q4_0Weights : IWeightDecoder
{
    public static DType Format => DType.Q4_0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        byte* block = row + (at / 32 * 18);
        Vector256<float> d = Vector256.Create(HalfTable.Value(*(ushort*)block));
        Vector128<byte> packed = Vector128.Load(block + 2);
        Vector128<byte> low = packed & Vector128.Create((byte)0x0F), high = Vector128.ShiftRightLogical(packed, 4);
        Vector256<sbyte> q = Vector256.Create(low, high).AsSByte() - Vector256.Create((sbyte)8); // values 0..15 are the low nibbles, 16..31 the high
        Bytes.Signed(q, out w0, out w1, out w2, out w3);
        (w0, w1, w2, w3) = (w0 * d, w1 * d, w2 * d, w3 * d);
    }

    public static float Decode1(byte* row, int at) => throw new InvalidOperationException("q4_0 rows are whole blocks");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        byte* block = row + (at / 32 * 18);
        Vector512<float> d = Vector512.Create(HalfTable.Value(*(ushort*)block));
        Vector128<byte> packed = Vector128.Load(block + 2);
        Vector512<int> eight = Vector512.Create(8);
        lo = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(packed & Vector128.Create((byte)0x0F)) - eight) * d;
        hi = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.ShiftRightLogical(packed, 4)) - eight) * d;
    }
}

internal unsafe struct E4M3Weights : IWeightDecoder
{
    public static DType Format => DType.F8E4M3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        Bytes.Unsigned(Vector256.Load(row + at), out Vector256<uint> a, out Vector256<uint> b, out Vector256<uint> c, out Vector256<uint> d);
        (w0, w1, w2, w3) = (E4M3(a), E4M3(b), E4M3(c), E4M3(d));
    }

    public static float Decode1(byte* row, int at) => Runtime.Quantization.Fp8.E4M3ToF32(row[at]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        lo = E4M3(Avx512F.ConvertToVector512UInt32(Vector128.Load(row + at)));
        hi = E4M3(Avx512F.ConvertToVector512UInt32(Vector128.Load(row + at + 16)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> E4M3(Vector512<uint> b)
    {
        Vector512<uint> magnitude = b & Vector512.Create(0x7Fu);
        Vector512<float> value = (magnitude << 20).AsSingle() * Vector512.Create(1.329228e36f); // 2^120
        Vector512<uint> bits = Vector512.ConditionalSelect(Vector512.Equals(magnitude, Vector512.Create(0x7Fu)), Vector512.Create(0x7FC00000u), value.AsUInt32());
        return (bits | ((b & Vector512.Create(0x80u)) << 24)).AsSingle();
    }

    /// <summary>E4M3 bits → f32: exponent and mantissa moved to f32 position and scaled by 2¹²⁰ (bias 127 − 7), subnormals included; 0x7F is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> E4M3(Vector256<uint> b)
    {
        Vector256<uint> magnitude = b & Vector256.Create(0x7Fu);
        Vector256<float> value = (magnitude << 20).AsSingle() * Vector256.Create(1.329228e36f); // 2^120
        Vector256<uint> bits = Vector256.ConditionalSelect(Vector256.Equals(magnitude, Vector256.Create(0x7Fu)), Vector256.Create(0x7FC00000u), value.AsUInt32());
        return (bits | ((b & Vector256.Create(0x80u)) << 24)).AsSingle();
    }
}

internal unsafe struct E5M2Weights : IWeightDecoder
{
    public static DType Format => DType.F8E5M2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32(byte* row, int at, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        Bytes.Unsigned(Vector256.Load(row + at), out Vector256<uint> a, out Vector256<uint> b, out Vector256<uint> c, out Vector256<uint> d);
        (w0, w1, w2, w3) = (F16Weights.HalfBits(a << 8), F16Weights.HalfBits(b << 8), F16Weights.HalfBits(c << 8), F16Weights.HalfBits(d << 8));
    }

    public static float Decode1(byte* row, int at) => Runtime.Quantization.Fp8.E5M2ToF32(row[at]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode32Wide(byte* row, int at, out Vector512<float> lo, out Vector512<float> hi)
    {
        lo = F16Weights.HalfBits(Avx512F.ConvertToVector512UInt32(Vector128.Load(row + at)) << 8);
        hi = F16Weights.HalfBits(Avx512F.ConvertToVector512UInt32(Vector128.Load(row + at + 16)) << 8);
    }
}

/// <summary>32 bytes widened to four vectors of eight (or two of sixteen), in order.</summary>
internal static unsafe class Bytes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SignedWide(sbyte* q, out Vector512<float> lo, out Vector512<float> hi)
    {
        lo = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q)));
        hi = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + 16)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Signed(Vector256<sbyte> q, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3)
    {
        (Vector256<short> lo, Vector256<short> hi) = Vector256.Widen(q);
        (Vector256<int> a, Vector256<int> b) = Vector256.Widen(lo);
        (Vector256<int> c, Vector256<int> d) = Vector256.Widen(hi);
        (w0, w1, w2, w3) = (Vector256.ConvertToSingle(a), Vector256.ConvertToSingle(b), Vector256.ConvertToSingle(c), Vector256.ConvertToSingle(d));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unsigned(Vector256<byte> q, out Vector256<uint> w0, out Vector256<uint> w1, out Vector256<uint> w2, out Vector256<uint> w3)
    {
        (Vector256<ushort> lo, Vector256<ushort> hi) = Vector256.Widen(q);
        (w0, w1) = Vector256.Widen(lo);
        (w2, w3) = Vector256.Widen(hi);
    }
}

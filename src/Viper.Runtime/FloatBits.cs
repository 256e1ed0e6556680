using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Viper.Runtime;

/// <summary>
/// Exact conversions between f32, f16 and bf16 bit patterns, all rounding to nearest, ties to even,
/// with NaN kept quiet and infinities and subnormals preserved (the rules PyTorch's casts follow).
/// </summary>
public static class FloatBits
{
    public static ushort F32ToF16(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>
    /// f16 → f32 by bits (the same value as (float)Half, a few instructions instead of a call: the per-block scale of Q8_0/Q4_0
    /// weights is converted once per 32 values in the decode loop). The magnitude moved into f32 position and scaled by 2¹¹²
    /// is exact for normals and subnormals; an all-ones exponent becomes f32's, a NaN's payload kept and made quiet.
    /// </summary>
    public static float F16ToF32(ushort bits)
    {
        uint magnitude = (uint)(bits & 0x7FFF) << 13, sign = (uint)(bits & 0x8000) << 16;
        if ((bits & 0x7C00) == 0x7C00)
        {
            return BitConverter.UInt32BitsToSingle(sign | magnitude | 0x7F800000u | ((bits & 0x3FF) != 0 ? 0x400000u : 0)); // NaN kept quiet
        }

        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(magnitude) * 5.192297e33f) | sign); // 2^112
    }

    /// <summary>Round-to-nearest-even f32 → bf16, as c10::BFloat16's round_to_nearest_even.</summary>
    public static ushort F32ToBF16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040); // keep sign and payload top bits, force quiet
        }

        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFFu + lsb) >> 16);
    }

    public static float BF16ToF32(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    public static void F32ToF16(ReadOnlySpan<float> source, Span<ushort> destination) =>
        TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<ushort, Half>(destination));

    public static void F16ToF32(ReadOnlySpan<ushort> source, Span<float> destination) =>
        TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(source), destination);

    /// <summary>
    /// <see cref="F32ToBF16(float)"/> over a span, sixteen values at a time: the same rounding in integer lanes, NaNs
    /// picked out by a compare, the two halves narrowed into one vector of bf16. (Every op's bf16 output passes through
    /// here; one value at a time it was a serial 1–2 % of a decode step.)
    /// </summary>
    public static void F32ToBF16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        CheckLengths(source.Length, destination.Length);
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                Vector256<ushort> rounded = Vector256.Narrow(
                    RoundedTop(Vector256.Create(bits.Slice(i, Vector256<uint>.Count))),
                    RoundedTop(Vector256.Create(bits.Slice(i + Vector256<uint>.Count, Vector256<uint>.Count))));
                rounded.CopyTo(destination[i..]);
            }
        }

        for (; i < source.Length; i++)
        {
            destination[i] = F32ToBF16(source[i]);
        }
    }

    /// <summary>Eight f32 bit patterns rounded to their bf16 in the low 16 bits of each lane, as <see cref="F32ToBF16(float)"/>.</summary>
    private static Vector256<uint> RoundedTop(Vector256<uint> bits)
    {
        Vector256<uint> rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) >> 16;
        Vector256<uint> quiet = (bits >> 16) | Vector256.Create(0x0040u);
        Vector256<float> value = bits.AsSingle();
        return Vector256.ConditionalSelect(Vector256.Equals(value, value).AsUInt32(), rounded, quiet);
    }

    /// <summary>Exact (a bf16 is the top half of an f32): widen each 16-bit pattern and shift it up, vectorised.</summary>
    public static void BF16ToF32(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        CheckLengths(source.Length, destination.Length);
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                (Vector256<uint> low, Vector256<uint> high) = Vector256.Widen(Vector256.Create(source.Slice(i, Vector256<ushort>.Count)));
                Vector256.ShiftLeft(low, 16).CopyTo(bits[i..]);
                Vector256.ShiftLeft(high, 16).CopyTo(bits[(i + Vector256<uint>.Count)..]);
            }
        }

        for (; i < source.Length; i++)
        {
            destination[i] = BF16ToF32(source[i]);
        }
    }

    private static void CheckLengths(int source, int destination)
    {
        if (destination < source)
        {
            throw new ArgumentException($"destination holds {destination} elements, source {source}");
        }
    }
}

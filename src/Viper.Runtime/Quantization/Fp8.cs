namespace Viper.Runtime.Quantization;

/// <summary>
/// The two OCP FP8 formats PyTorch calls float8_e4m3fn and float8_e5m2. E4M3: bias 7, no infinities, 0x7F/0xFF NaN,
/// largest finite 448. E5M2: the top byte of an IEEE f16 (bias 15, infinities and NaNs as f16 has them).
/// </summary>
public static class Fp8
{
    public const float E4M3Max = 448f;

    private static readonly float[] E4M3Values = BuildE4M3();

    public static float E4M3ToF32(byte bits) => E4M3Values[bits];

    public static float E5M2ToF32(byte bits) => FloatBits.F16ToF32((ushort)(bits << 8));

    /// <summary>
    /// Rounds to nearest E4M3, ties to even, saturating at ±448 (quantizers scale into range first, so saturation only
    /// absorbs the last rounding step); NaN stays NaN.
    /// </summary>
    public static byte F32ToE4M3(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        byte sign = (byte)((bits >> 24) & 0x80);
        float a = MathF.Abs(value);
        if (float.IsNaN(value))
        {
            return (byte)(sign | 0x7F);
        }

        if (a >= 464f) // the midpoint between 448 and the NaN code's 480
        {
            return (byte)(sign | 0x7E);
        }

        if (a < 0.015625f) // below 2⁻⁶: subnormal steps of 2⁻⁹ (code 8, 2⁻⁶, is reached by rounding up)
        {
            return (byte)(sign | (int)MathF.Round(a * 512f, MidpointRounding.ToEven));
        }

        uint abs = bits & 0x7FFF_FFFF;
        uint rounded = (abs + 0x7FFFF + ((abs >> 20) & 1)) >> 20; // f32 exponent and 3 mantissa bits, rounded to nearest even
        return (byte)(sign | (rounded - ((127 - 7) << 3)));
    }

    private static float[] BuildE4M3()
    {
        var values = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int exponent = (b >> 3) & 0xF, mantissa = b & 7;
            float magnitude = (b & 0x7F) == 0x7F ? float.NaN
                : exponent == 0 ? mantissa / 8f * MathF.Pow(2, -6)
                : (1 + (mantissa / 8f)) * MathF.Pow(2, exponent - 7);
            values[b] = (b & 0x80) != 0 ? -magnitude : magnitude;
        }

        return values;
    }
}

namespace Viper.Runtime.Quantization;

/// <summary>
/// llama.cpp's Q8_0 and Q4_0 blocks, byte for byte (ggml-quants.c quantize_row_q8_0_ref / quantize_row_q4_0_ref and
/// dequantize_row_*): 32 values per block, an f16 scale d first. Q8_0 stores round(x/d) with d = amax/127; Q4_0 stores
/// nibbles q with value (q − 8)·d, d = max/−8 where max is the value of largest magnitude; element j of a block is the low
/// nibble of byte j and element j + 16 its high nibble. Values decode with the f16-rounded scale.
/// </summary>
public static class BlockQuant
{
    public const int Block = 32;

    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        for (int b = 0; b < x.Length / Block; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * Block, Block);
            Span<byte> y = blocks.Slice(b * 34, 34);
            float amax = 0;
            foreach (float f in v)
            {
                amax = MathF.Max(amax, MathF.Abs(f));
            }

            float d = amax / 127;
            float id = d != 0 ? 1f / d : 0f;
            WriteScale(y, d);
            for (int j = 0; j < Block; j++)
            {
                y[2 + j] = unchecked((byte)(sbyte)MathF.Round(v[j] * id, MidpointRounding.AwayFromZero)); // C roundf
            }
        }
    }

    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        for (int b = 0; b < x.Length / Block; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * Block, Block);
            Span<byte> y = blocks.Slice(b * 18, 18);
            float amax = 0, max = 0;
            foreach (float f in v)
            {
                if (amax < MathF.Abs(f))
                {
                    amax = MathF.Abs(f);
                    max = f;
                }
            }

            float d = max / -8;
            float id = d != 0 ? 1f / d : 0f;
            WriteScale(y, d);
            for (int j = 0; j < Block / 2; j++)
            {
                int lo = Math.Min(15, (int)(sbyte)(int)((v[j] * id) + 8.5f));
                int hi = Math.Min(15, (int)(sbyte)(int)((v[j + (Block / 2)] * id) + 8.5f));
                y[2 + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    public static void DequantizeQ8_0(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        for (int b = 0; b < y.Length / Block; b++)
        {
            ReadOnlySpan<byte> q = blocks.Slice(b * 34, 34);
            float d = ReadScale(q);
            for (int j = 0; j < Block; j++)
            {
                y[(b * Block) + j] = (sbyte)q[2 + j] * d;
            }
        }
    }

    public static void DequantizeQ4_0(ReadOnlySpan<byte> blocks, Span<float> y)
    {
        for (int b = 0; b < y.Length / Block; b++)
        {
            ReadOnlySpan<byte> q = blocks.Slice(b * 18, 18);
            float d = ReadScale(q);
            for (int j = 0; j < Block / 2; j++)
            {
                y[(b * Block) + j] = ((q[2 + j] & 0xF) - 8) * d;
                y[(b * Block) + j + (Block / 2)] = ((q[2 + j] >> 4) - 8) * d;
            }
        }
    }

    private static void WriteScale(Span<byte> block, float d)
    {
        ushort h = FloatBits.F32ToF16(d);
        block[0] = (byte)h;
        block[1] = (byte)(h >> 8);
    }

    private static float ReadScale(ReadOnlySpan<byte> block) => FloatBits.F16ToF32((ushort)(block[0] | (block[1] << 8)));
}

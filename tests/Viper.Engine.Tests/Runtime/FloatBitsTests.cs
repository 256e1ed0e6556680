using Viper.Runtime;

namespace Viper.Engine.Tests.Runtime;

/// <summary>Exhaustive checks of the scalar conversions; the PyTorch-made cast fixtures cover the bulk paths.</summary>
public class FloatBitsTests
{
    [Fact]
    public void EveryF16ValueRoundTripsThroughF32()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float f = FloatBits.F16ToF32((ushort)bits);
            if (!float.IsNaN(f))
            {
                Assert.Equal((ushort)bits, FloatBits.F32ToF16(f));
            }
        }
    }

    [Fact]
    public void EveryBF16ValueRoundTripsThroughF32()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float f = FloatBits.BF16ToF32((ushort)bits);
            Assert.Equal(float.IsNaN(f), float.IsNaN(FloatBits.BF16ToF32(FloatBits.F32ToBF16(f))));
            if (!float.IsNaN(f))
            {
                Assert.Equal((ushort)bits, FloatBits.F32ToBF16(f));
            }
        }
    }

    [Theory]
    [InlineData(0x3F808000u, 0x3F80)] // tie, even below: stays
    [InlineData(0x3F818000u, 0x3F82)] // tie, odd below: rounds up to even
    [InlineData(0x3F808001u, 0x3F81)] // just above the tie
    [InlineData(0x7F7FFFFFu, 0x7F80)] // max float rounds to infinity
    [InlineData(0x00000001u, 0x0000)] // smallest subnormal rounds to zero
    public void BF16RoundsToNearestEven(uint f32Bits, int expected) =>
        Assert.Equal((ushort)expected, FloatBits.F32ToBF16(BitConverter.UInt32BitsToSingle(f32Bits)));

    /// <summary>The vectorised span conversion gives the scalar one's bits for every kind of value, tail included.</summary>
    [Fact]
    public void BF16SpanConversionEqualsTheScalarOne()
    {
        var rng = new Random(7);
        uint[] special = [0x3F808000u, 0x3F818000u, 0x7F7FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00001u, 0xFFFFFFFFu, 0x7F800001u, 0x80000001u, 0x00000000u, 0x80000000u];
        float[] values = [.. Enumerable.Range(0, 16411).Select(i => BitConverter.UInt32BitsToSingle(i < special.Length ? special[i] : (uint)rng.NextInt64(0, 1L << 32)))];
        ushort[] bulk = new ushort[values.Length];
        FloatBits.F32ToBF16(values, bulk);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(FloatBits.F32ToBF16(values[i]) == bulk[i], $"value {i}: bits {BitConverter.SingleToUInt32Bits(values[i]):X8}");
        }
    }

    [Fact]
    public void HalfwayCasesBetweenF16NeighboursRoundToEven()
    {
        for (int bits = 0x0001; bits < 0x7BFF; bits += 37)
        {
            float low = FloatBits.F16ToF32((ushort)bits), high = FloatBits.F16ToF32((ushort)(bits + 1));
            float mid = (float)(((double)low + high) / 2);
            ushort even = (bits & 1) == 0 ? (ushort)bits : (ushort)(bits + 1);
            Assert.Equal(even, FloatBits.F32ToF16(mid));
        }
    }
}

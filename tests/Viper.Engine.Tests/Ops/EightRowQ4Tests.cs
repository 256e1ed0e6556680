using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Quantization;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// The CPU backend's Q4_0 decode layout (<see cref="EightRowQ4"/>): a Q4_0 matrix of whole eight-row groups is rewritten
/// eight rows interleaved at its first decode. Its decode must equal the linear on the dequantized weight (within the
/// activations' Q8_0 rounding, as the plain layout's), and everyone else must still see the bytes as written.
/// </summary>
public unsafe class EightRowQ4Tests
{
    // 80 × 8256: a whole tile of eight groups and one of two; K in chunks of 128, 128 and 2 blocks.
    [Theory]
    [InlineData(24, 96)]
    [InlineData(80, 8256)]
    public void PackingThenUnpackingRestoresTheBytesAndRowsReadBackPlain(int n, int k)
    {
        byte[] plain = Quantized(new Random(5), n, k, 0.2f);
        byte[] work = (byte[])plain.Clone();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 2 };
        fixed (byte* p = work)
        {
            Assert.True(EightRowQ4.Pack(p, n, k, parallel));
            Assert.False(plain.AsSpan().SequenceEqual(work));
            byte[] row = new byte[k / 32 * 18];
            fixed (byte* r = row)
            {
                foreach (int i in new[] { 0, 7, 8, 13, 23, 63, 64, 79 }.Where(i => i < n))
                {
                    EightRowQ4.CopyRow(p, n, k, i, r);
                    Assert.True(plain.AsSpan(i * row.Length, row.Length).SequenceEqual(row), $"row {i}");
                }
            }

            EightRowQ4.Unpack(p, n, k, parallel);
        }

        Assert.Equal(plain, work);
    }

    [Theory]
    [InlineData(72, 96)]
    [InlineData(16, 160)]
    [InlineData(1000, 512)]
    [InlineData(80, 8256)]
    public void DecodeOnInterleavedRowsMatchesTheDequantizedLinear(int n, int k)
    {
        var rng = new Random(n + k);
        byte[] stored = Quantized(rng, n, k, 0.1f);
        float[] w = WeightQuantizer.Dequantize(new QuantizedMatrix(DType.Q4_0, n, k, stored, null));
        using var b = new CpuBackend(2);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), DType.Q4_0);
        foreach (int m in new[] { 1, 3, 8 })
        {
            float[] x = Random(rng, m * k, 1f), bias = Random(rng, n, 1f);
            using Tensor y = b.Linear(b.FromFloats(x, new Shape(m, k)), weight, b.FromFloats(bias, new Shape(n)));
            Assert.True(((CpuStorage)weight.Storage).IsEightRowQ4);
            AssertLinear(y.ToFloats(), x, w, bias, m, n, k);
        }
    }

    [Fact]
    public void TheWeightReadsBackAsWrittenAndRowViewsStillWork()
    {
        const int n = 32, k = 64;
        var rng = new Random(9);
        byte[] stored = Quantized(rng, n, k, 0.1f);
        float[] w = WeightQuantizer.Dequantize(new QuantizedMatrix(DType.Q4_0, n, k, stored, null));
        float[] x = Random(rng, k, 1f), noBias = new float[n];
        using var b = new CpuBackend(2);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), DType.Q4_0);
        using Tensor xs = b.FromFloats(x, new Shape(1, k));
        using Tensor first = b.Linear(xs, weight, null);
        Assert.True(((CpuStorage)weight.Storage).IsEightRowQ4);

        Assert.Equal(stored, weight.ToBytes());
        Assert.False(((CpuStorage)weight.Storage).IsEightRowQ4);
        using Tensor again = b.Linear(xs, weight, null);
        Assert.Equal(first.ToBytes(), again.ToBytes());

        using Tensor rows = weight.Slice(8, 16); // a view of part of the matrix reads the plain layout
        using Tensor part = b.Linear(xs, rows, null);
        Assert.False(((CpuStorage)weight.Storage).IsEightRowQ4);
        AssertLinear(part.ToFloats(), x, w.AsSpan(8 * k, 16 * k).ToArray(), noBias.AsSpan(0, 16).ToArray(), 1, 16, k);
    }

    [Fact]
    public void PrefillAfterDecodeReadsTheInterleavedRowsAsTheyAre()
    {
        const int n = 40, k = 128, m = 20;
        var rng = new Random(4);
        byte[] stored = Quantized(rng, n, k, 0.1f);
        using var b = new CpuBackend(2);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), DType.Q4_0);
        using Tensor prompt = b.FromFloats(Random(rng, m * k, 1f), new Shape(m, k));
        byte[] before = b.Linear(prompt, weight, null).ToBytes();
        using Tensor token = b.Linear(b.FromFloats(Random(rng, k, 1f), new Shape(1, k)), weight, null);
        byte[] after = b.Linear(prompt, weight, null).ToBytes();
        Assert.True(((CpuStorage)weight.Storage).IsEightRowQ4); // not restored for the prefill and packed again for the next token
        Assert.Equal(before, after);
    }

    [Fact]
    public void AMatrixWithANonFiniteScaleStaysPlain()
    {
        const int n = 16, k = 64;
        var rng = new Random(2);
        byte[] stored = Quantized(rng, n, k, 0.1f);
        stored[(5 * 36) + 18] = 0x00;
        stored[(5 * 36) + 19] = 0x7C; // row 5, block 1: scale +∞
        float[] w = WeightQuantizer.Dequantize(new QuantizedMatrix(DType.Q4_0, n, k, stored, null));
        float[] x = Random(rng, k, 1f), noBias = new float[n];
        using var b = new CpuBackend(2);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), DType.Q4_0);
        float[] y = b.Linear(b.FromFloats(x, new Shape(1, k)), weight, null).ToFloats();
        Assert.False(((CpuStorage)weight.Storage).IsEightRowQ4);
        Assert.False(float.IsFinite(y[5]));
        y[5] = 0;
        w.AsSpan(5 * k, k).Clear();
        AssertLinear(y, x, w, noBias, 1, n, k);
        Assert.Equal(stored, weight.ToBytes());
    }

    /// <summary>
    /// Every code 15 against activations of ±1 (Q8_0 codes ±127): the largest pair products (±3810), sixteen to a lane in
    /// the int16 sums of a block (±30480), which must not saturate: each output is ±7·k.
    /// </summary>
    [Fact]
    public void TheLargestCodesAndActivationsDoNotSaturate()
    {
        const int n = 16, k = 256;
        byte[] block = [0x00, 0x3C, .. Enumerable.Repeat((byte)0xFF, 16)]; // scale 1.0, every value 15 − 8 = 7
        byte[] stored = [.. Enumerable.Range(0, n * k / 32).SelectMany(_ => block)];
        float[] x = [.. Enumerable.Repeat(1f, k), .. Enumerable.Repeat(-1f, k)];
        using var b = new CpuBackend(2);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), DType.Q4_0);
        float[] y = b.Linear(b.FromFloats(x, new Shape(2, k)), weight, null).ToFloats();
        Assert.True(((CpuStorage)weight.Storage).IsEightRowQ4);
        for (int i = 0; i < 2 * n; i++)
        {
            float expected = i < n ? 7f * k : -7f * k; // within the f32 rounding of the activation scale 1/127
            Assert.True(Math.Abs(y[i] - expected) <= 1e-5 * Math.Abs(expected), $"output {i}: {y[i]}, expected {expected}");
        }
    }

    [Fact]
    public void HighNibblesOfEveryByte()
    {
        byte[] all = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
        for (int at = 0; at < 256; at += 32)
        {
            var high = BlockDotGemv.HighNibbles(System.Runtime.Intrinsics.Vector256.Create(all.AsSpan(at, 32)));
            for (int i = 0; i < 32; i++)
            {
                Assert.Equal((byte)((at + i) >> 4), high[i]);
            }
        }
    }

    /// <summary>Within f32 accumulation of the f64 linear, plus the activations' Q8_0 rounding.</summary>
    private static void AssertLinear(float[] got, float[] x, float[] w, float[] bias, int m, int n, int k) =>
        ExactLinear.AssertWithin(got, x, w, bias, m, n, k, relative: 1e-6, absolute: 1e-7, roundedActivations: true);

    private static byte[] Quantized(Random rng, int n, int k, float scale) => WeightQuantizer.Quantize(Random(rng, n * k, scale), n, k, DType.Q4_0).Data;

    private static float[] Random(Random rng, int count, float scale) => [.. Enumerable.Range(0, count).Select(_ => ((rng.NextSingle() * 2) - 1) * scale)];
}

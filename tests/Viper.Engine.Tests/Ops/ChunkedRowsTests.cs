using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Quantization;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// The CPU backend's decode layout for long-K weights (<see cref="ChunkedRows"/>: bf16, f16, int8, fp8, Q8_0): rewritten in
/// tiles of 64 rows with K in chunks of 4096 at the first decode. The decode must equal the linear on the weight's
/// values, prefill must read the chunked rows as they are, and everyone else must still see the bytes as written.
/// 70 × 8256: a whole tile and one of 6 rows; chunks of 4096, 4096 and 64 values. 136 × 4128: three tiles, a last
/// chunk of 32 values (the decode's tail of half a 64-value step).
/// </summary>
public unsafe class ChunkedRowsTests
{
    [Theory]
    [InlineData(DType.I8, 70, 8256)]
    [InlineData(DType.I8, 136, 4128)]
    [InlineData(DType.Q8_0, 70, 8256)]
    public void PackingThenUnpackingRestoresTheBytesAndRowsDecodeWhereTheyLie(DType format, int n, int k)
    {
        var rng = new Random(n);
        QuantizedMatrix q = WeightQuantizer.Quantize(Random(rng, n * k, 0.2f), n, k, format);
        float[] values = WeightQuantizer.Dequantize(q.Scale is null ? q : q with { Scale = [.. Enumerable.Repeat(1f, n)] }); // int8: the codes (no scale applied here)
        byte[] work = (byte[])q.Data.Clone();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 2 };
        int blockBytes = ChunkedRows.BlockBytes(format);
        fixed (byte* p = work)
        {
            ChunkedRows.Pack(p, n, k, blockBytes, parallel);
            Assert.False(q.Data.AsSpan().SequenceEqual(work));
            float[] row = new float[k];
            fixed (float* r = row)
            {
                foreach (int i in new[] { 0, 1, 63, 64, 69, 100, 135 }.Where(i => i < n))
                {
                    WeightRows.DequantizeChunkedRow(format, p, n, i, k, 1f, r);
                    Assert.True(values.AsSpan(i * k, k).SequenceEqual(row), $"row {i}");
                }
            }

            ChunkedRows.Unpack(p, n, k, blockBytes, parallel);
        }

        Assert.Equal(q.Data, work);
    }

    [Theory]
    [InlineData(DType.BF16, 70, 8256)]
    [InlineData(DType.I8, 70, 8256)]
    [InlineData(DType.F8E4M3, 136, 4128)]
    [InlineData(DType.I8, 136, 4128)]
    [InlineData(DType.Q8_0, 70, 8256)]
    [InlineData(DType.Q8_0, 136, 4128)]
    public void DecodeOnChunkedRowsMatchesTheLinearOnTheWeightsValues(DType format, int n, int k)
    {
        var rng = new Random(n + k);
        float[] source = Random(rng, n * k, 0.1f);
        using var b = new CpuBackend(2);
        (Tensor weight, Tensor? scale, float[] w) = Weight(b, source, n, k, format);
        using (weight)
        using (scale)
        {
            foreach (int m in new[] { 1, 3 })
            {
                float[] x = Random(rng, m * k, 1f), bias = Random(rng, n, 1f);
                using Tensor y = b.Linear(b.FromFloats(x, new Shape(m, k)), weight, b.FromFloats(bias, new Shape(n)), scale);
                AssertLinear(y.ToFloats(), x, w, bias, m, n, k, format == DType.Q8_0);
                Assert.True(((CpuStorage)weight.Storage).IsChunkedRows);
            }

            Assert.True(((CpuStorage)weight.Storage).IsChunkedRows);
        }
    }

    [Fact]
    public void PrefillAfterDecodeReadsTheChunkedRowsAndTheBytesReadBackAsWritten()
    {
        const int n = 70, k = 8256, m = 12;
        var rng = new Random(4);
        using var b = new CpuBackend(2);
        (Tensor weight, Tensor? scale, float[] w) = Weight(b, Random(rng, n * k, 0.1f), n, k, DType.I8);
        using (weight)
        using (scale)
        {
            byte[] stored = weight.ToBytes();
            using Tensor prompt = b.FromFloats(Random(rng, m * k, 1f), new Shape(m, k));
            byte[] before = b.Linear(prompt, weight, null, scale).ToBytes();
            float[] x = Random(rng, k, 1f);
            using Tensor xs = b.FromFloats(x, new Shape(1, k));
            byte[] token = b.Linear(xs, weight, null, scale).ToBytes();
            byte[] after = b.Linear(prompt, weight, null, scale).ToBytes();
            Assert.True(((CpuStorage)weight.Storage).IsChunkedRows); // not restored for the prefill and rearranged again for the next token
            Assert.Equal(before, after);

            Assert.Equal(stored, weight.ToBytes());
            Assert.False(((CpuStorage)weight.Storage).IsChunkedRows);
            Assert.Equal(token, b.Linear(xs, weight, null, scale).ToBytes());
            using Tensor rows = weight.Slice(64, 6); // a view of part of the matrix reads the plain layout
            using Tensor rowScale = scale!.Slice(64, 6);
            AssertLinear(b.Linear(xs, rows, null, rowScale).ToFloats(), x, w.AsSpan(64 * k, 6 * k).ToArray(), new float[6], 1, 6, k);
        }
    }

    /// <summary>The weight in <paramref name="format"/> (with its per-row scale where it has one) and its values.</summary>
    private static (Tensor Weight, Tensor? Scale, float[] Values) Weight(CpuBackend b, float[] source, int n, int k, DType format)
    {
        if (format == DType.BF16)
        {
            Tensor bf16 = b.FromFloats(source, new Shape(n, k), DType.BF16);
            return (bf16, null, bf16.ToFloats());
        }

        QuantizedMatrix q = WeightQuantizer.Quantize(source, n, k, format);
        return (b.FromHost(q.Data, new Shape(n, k), format), q.Scale is null ? null : b.FromFloats(q.Scale, new Shape(n)), WeightQuantizer.Dequantize(q));
    }

    /// <summary>Within f32 accumulation of the f64 linear, plus the activations' Q8_0 rounding where the decode quantizes them (Q8_0 weights).</summary>
    private static void AssertLinear(float[] got, float[] x, float[] w, float[] bias, int m, int n, int k, bool roundedActivations = false) =>
        ExactLinear.AssertWithin(got, x, w, bias, m, n, k, relative: 1e-5, absolute: 1e-6, roundedActivations);

    private static float[] Random(Random rng, int count, float scale) => [.. Enumerable.Range(0, count).Select(_ => ((rng.NextSingle() * 2) - 1) * scale)];
}

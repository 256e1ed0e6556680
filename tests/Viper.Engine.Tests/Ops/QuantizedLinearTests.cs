using System.Runtime.InteropServices;
using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Quantization;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Linear over every weight format. Fixtures: tools/refs/make_op_fixtures.py::quantized_linear (an independent numpy
/// quantizer per format and the f64 linear on the dequantized weight) and ::quantized_linear_eight_rows (Q4_0 in whole
/// groups of eight rows, the CPU's interleaved decode layout) and ::quantized_linear_long_k (Q4_0 and Q8_0 with K = 4160,
/// which the CPU holds in tiles with K in chunks); the odd-shape tests compare with the f64 linear
/// on <see cref="WeightQuantizer.Dequantize"/>'s values.
/// </summary>
public class QuantizedLinearTests
{
    private const string Fixtures =
        "linear_int8_decode, linear_int8_prefill, linear_int8_bf16, linear_fp8_e4m3_decode, linear_fp8_e4m3_prefill, linear_fp8_e4m3_bf16, " +
        "linear_fp8_e5m2_decode, linear_fp8_e5m2_prefill, linear_fp8_e5m2_bf16, linear_q8_0_decode, linear_q8_0_prefill, linear_q8_0_bf16, " +
        "linear_q4_0_decode, linear_q4_0_prefill, linear_q4_0_bf16, linear_q4_0_eight_rows_1row, linear_q4_0_eight_rows_3rows, " +
        "linear_q4_0_long_k_1row, linear_q4_0_long_k_3rows, linear_q8_0_long_k_1row, linear_q8_0_long_k_3rows";

    /// <summary>
    /// Within the f32 (or twice-naive) tolerance of the fixture's f64 linear — except the CPU's Q8_0/Q4_0 decode, which
    /// quantizes the activations as llama.cpp does and is held to that rounding's bound instead (<see cref="ExactLinear.ActivationRounding"/>).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.With), Fixtures, MemberType = typeof(TestBackends))]
    public void LinearOverAStoredWeightFormat(string backend, string fixture)
    {
        Tensor Run(IBackend b, OpFixture f)
        {
            var shape = new Shape(f.Param("rows").GetInt32(), f.Param("cols").GetInt32());
            return b.Linear(f.Load(b, "x"), b.FromHost(f.Raw("weight"), shape, Format(f.Param("format").GetString()!)), f.Load(b, "bias"), f.LoadOptional(b, "scale"));
        }

        using (var probe = new OpFixture(fixture, "quantized_linear"))
        {
            DType format = Format(probe.Param("format").GetString()!);
            if (!QuantizesActivations(backend, format, (int)probe.ShapeOf("x").Rows))
            {
                FixtureRunner.Check(backend, fixture, "quantized_linear", Run);
                return;
            }
        }

        using IBackend b = TestBackends.Create(backend);
        using var f = new OpFixture(fixture, "quantized_linear");
        int n = f.Param("rows").GetInt32(), k = f.Param("cols").GetInt32();
        float[] x = f.Floats("x"), expected = f.Floats("expected");
        float[] w = WeightQuantizer.Dequantize(new QuantizedMatrix(Format(f.Param("format").GetString()!), n, k, f.Raw("weight"), null));
        using Tensor y = Run(b, f);
        float[] got = y.ToFloats();
        double eps = y.DType == DType.BF16 ? 1.0 / 256 : 0;
        for (int r = 0; r < x.Length / k; r++)
        {
            for (int c = 0; c < n; c++)
            {
                double bound = ExactLinear.ActivationRounding(x.AsSpan(r * k, k), w.AsSpan(c * k, k)) + (eps * Math.Abs(expected[(r * n) + c])) + 1e-5;
                Assert.True(Math.Abs(got[(r * n) + c] - expected[(r * n) + c]) <= bound, $"{fixture}: y[{r},{c}] = {got[(r * n) + c]}, expected {expected[(r * n) + c]} (bound {bound:g3})");
            }
        }
    }

    [Theory]
    [InlineData("linear_int8_prefill")]
    [InlineData("linear_fp8_e4m3_prefill")]
    [InlineData("linear_q8_0_prefill")]
    [InlineData("linear_q4_0_prefill")]
    public void TheQuantizerWritesTheSameBytesAsTheIndependentOne(string fixture)
    {
        using var f = new OpFixture(fixture, "quantized_linear");
        DType format = Format(f.Param("format").GetString()!);
        QuantizedMatrix q = WeightQuantizer.Quantize(f.Floats("source"), f.Param("rows").GetInt32(), f.Param("cols").GetInt32(), format);
        Assert.Equal(f.Raw("weight"), q.Data);
        if (f.Has("scale"))
        {
            Assert.Equal(f.Floats("scale"), q.Scale);
        }
    }

    public static TheoryData<string, DType, DType> FormatsAndActivations()
    {
        var data = new TheoryData<string, DType, DType>();
        foreach (string backend in TestBackends.Names)
        {
            foreach (DType w in new[] { DType.F16, DType.BF16, DType.I8, DType.F8E4M3, DType.Q8_0, DType.Q4_0 })
            {
                foreach (DType x in new[] { DType.F32, DType.F16, DType.BF16 })
                {
                    data.Add(backend, w, x);
                }
            }
        }

        return data;
    }

    /// <summary>
    /// Odd shapes (K not a multiple of 8 for per-element formats), every row count around the decode/prefill switch, a
    /// per-tensor scale: within f32 accumulation error of the f64 linear on the dequantized weight, plus the output's
    /// single rounding to x's dtype (and, for the CPU's Q8_0/Q4_0 decode, the activations' Q8_0 rounding). With f16/bf16 activations the bound also allows each weight rounded once to that
    /// dtype (eps·Σ|x·w|): the CUDA prefill dequantizes to x's dtype for the tensor-core GEMM, as w.to(x.dtype) would.
    /// </summary>
    [Theory]
    [MemberData(nameof(FormatsAndActivations))]
    public void MatchesTheLinearOnTheDequantizedWeight(string backend, DType weightFormat, DType activations)
    {
        using IBackend b = TestBackends.Create(backend);
        var rng = new Random(11);
        int n = 67, k = weightFormat.BlockSize() > 1 ? 160 : 77;
        float[] source = Random(rng, n * k, 0.1f);
        (byte[] stored, float[]? scale, float[] dequantized) = Stored(source, n, k, weightFormat);
        using Tensor weight = b.FromHost(stored, new Shape(n, k), weightFormat);
        using Tensor? scaleTensor = scale is null ? null : b.FromFloats(scale, new Shape(scale.Length));
        foreach (int m in new[] { 1, 2, 5, 8, 9, 20 })
        {
            using Tensor x = b.FromFloats(Random(rng, m * k, 1f), new Shape(m, k), activations);
            using Tensor bias = b.FromFloats(Random(rng, n, 1f), new Shape(n), activations);
            float[] xs = x.ToFloats(), bs = bias.ToFloats();
            using Tensor y = b.Linear(x, weight, bias, scaleTensor);
            Assert.Equal(activations, y.DType);
            float[] got = y.ToFloats();
            double eps = activations switch { DType.F16 => 1.0 / 2048, DType.BF16 => 1.0 / 256, _ => 1.0 / (1 << 24) };
            for (int r = 0; r < m; r++)
            {
                for (int c = 0; c < n; c++)
                {
                    (double exact, double magnitude) = ExactLinear.At(xs.AsSpan(r * k, k), dequantized.AsSpan(c * k, k), bs[c]);
                    double bound = (eps * Math.Abs(exact)) + (Math.Max(eps, 1e-6) * magnitude) + 1e-7
                        + (QuantizesActivations(backend, weightFormat, m) ? ExactLinear.ActivationRounding(xs.AsSpan(r * k, k), dequantized.AsSpan(c * k, k)) : 0);
                    Assert.True(Math.Abs(got[(r * n) + c] - exact) <= bound,
                        $"{weightFormat.Label()} × {activations.Label()} on {backend}, m {m}: y[{r},{c}] = {got[(r * n) + c]}, exact {exact} (bound {bound:g3})");
                }
            }
        }
    }

    /// <summary>Quantizing at load (slabs of 256 rows, uploaded into their rows) stores what the host quantizer makes of the whole matrix.</summary>
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void QuantizingAtLoadStoresTheHostQuantizersBytes(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        const int n = 1100, k = 96;
        float[] source = Random(new Random(8), n * k, 0.3f);
        using Tensor weight = b.FromFloats(source, new Shape(n, k), DType.BF16);
        float[] stored = weight.ToFloats();
        foreach (DType format in new[] { DType.I8, DType.F8E4M3, DType.Q8_0, DType.Q4_0, DType.F16 })
        {
            Viper.Models.Loading.LinearWeight converted = Viper.Models.Loading.LinearWeightFormats.Convert(b, weight, format);
            using (converted.Weight)
            using (converted.Scale)
            {
                byte[] expected = format.IsFloat() ? HostTensors.EncodeFloats(stored, format) : WeightQuantizer.Quantize(stored, n, k, format).Data;
                Assert.Equal((format, new Shape(n, k)), (converted.Weight.DType, converted.Weight.Shape));
                Assert.True(expected.AsSpan().SequenceEqual(converted.Weight.ToBytes()), $"{format.Label()} on {backend}: the stored bytes differ");
                if (format.NeedsScale())
                {
                    Assert.Equal(WeightQuantizer.Quantize(stored, n, k, format).Scale, converted.Scale!.ToFloats());
                }
            }
        }
    }

    /// <summary>
    /// The decode's activation quantizer (vectorised) writes the codes llama.cpp's quantize_row_q8_0 does, as the weight
    /// quantizer (checked byte for byte against the numpy one above) writes them for Q8_0 weights: random blocks, blocks
    /// of exact halves (amax 127, so the codes are the values rounded half away from zero), an all-zero block, a NaN.
    /// </summary>
    [Fact]
    public unsafe void TheActivationQuantizerWritesLlamaCppsCodes()
    {
        const int blocks = 40, k = blocks * 32;
        var rng = new Random(11);
        float[] x = Random(rng, k, 3f);
        for (int j = 0; j < 32; j++)
        {
            x[(5 * 32) + j] = j == 0 ? 127f : (j % 2 == 0 ? 1 : -1) * (j + 0.5f); // ties: ±1.5, ±2.5, … round away from zero
            x[(6 * 32) + j] = 0f;
            x[(7 * 32) + j] = j == 3 ? 1e-39f : 0.25f * j; // a subnormal among ordinary values
        }

        byte[] weight = WeightQuantizer.Quantize(x, 1, k, DType.Q8_0).Data;
        x[9 * 32] = float.NaN;
        var codes = new sbyte[k];
        var scales = new float[blocks];
        var offsets = new int[blocks];
        fixed (float* xp = x)
        {
            BlockDotGemv.QuantizeRow(xp, codes, scales, offsets);
        }

        for (int b = 0; b < blocks; b++)
        {
            if (b == 9)
            {
                Assert.True(float.IsNaN(scales[b]), "a block holding a NaN has a NaN scale");
                continue;
            }

            byte[] expected = weight.AsSpan((b * 34) + 2, 32).ToArray();
            Assert.True(expected.AsSpan().SequenceEqual(MemoryMarshal.AsBytes(codes.AsSpan(b * 32, 32))), $"block {b}: codes differ");
            Assert.Equal(BitConverter.ToUInt16(weight, b * 34), FloatBits.F32ToF16(scales[b]));
            Assert.Equal(-8 * codes.AsSpan(b * 32, 32).ToArray().Sum(c => c), offsets[b]);
        }
    }

    [Fact]
    public void DecodeResultsDoNotDependOnTheThreadCount()
    {
        var rng = new Random(3);
        const int n = 1000, k = 512;
        float[] w = Random(rng, n * k, 0.1f), x = Random(rng, 3 * k, 1f);
        QuantizedMatrix q = WeightQuantizer.Quantize(w, n, k, DType.Q4_0);
        byte[][] results = [.. new[] { 1, 2, 5 }.Select(threads =>
        {
            using var b = new CpuBackend(threads);
            using Tensor weight = b.FromHost(q.Data, new Shape(n, k), DType.Q4_0);
            using Tensor y = b.Linear(b.FromFloats(x, new Shape(3, k)), weight, null);
            return y.ToBytes();
        })];
        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], results[2]);
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ScalesAndBlockShapesAreChecked(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor x = b.Allocate(new Shape(2, 64), DType.F32);
        using Tensor q8 = b.Allocate(new Shape(3, 64), DType.Q8_0);
        using Tensor i8 = b.Allocate(new Shape(3, 64), DType.I8);
        using Tensor scale = b.FromFloats([1f, 2f, 3f], new Shape(3));
        using Tensor wrongScale = b.FromFloats([1f, 2f], new Shape(2));
        Assert.Contains("needs its scale", Assert.Throws<ArgumentException>(() => b.Linear(x, i8, null)).Message);
        Assert.Contains("takes no separate scale", Assert.Throws<ArgumentException>(() => b.Linear(x, q8, null, scale)).Message);
        Assert.Contains("per channel or (1) per tensor", Assert.Throws<ArgumentException>(() => b.Linear(x, i8, null, wrongScale)).Message);
        Assert.Contains("blocks the last axis by 32", Assert.Throws<ArgumentException>(() => b.Allocate(new Shape(3, 48), DType.Q4_0)).Message);
        Assert.Throws<ArgumentException>(() => b.Linear(x, b.Allocate(new Shape(3, 64), DType.U8), null));
    }

    [Fact]
    public void E4M3RoundsToNearestEvenAndSaturates()
    {
        for (int code = 0; code < 256; code++)
        {
            float v = Fp8.E4M3ToF32((byte)code);
            if (!float.IsNaN(v))
            {
                Assert.Equal((byte)code, Fp8.F32ToE4M3(v) is var back && v == 0 ? (byte)code : back); // ±0 keep their sign bit
            }
        }

        Assert.Equal(0x38, Fp8.F32ToE4M3(1f));
        Assert.Equal(0x38, Fp8.F32ToE4M3(1.0625f)); // halfway between 1 and 1.125: to the even code
        Assert.Equal(0x3A, Fp8.F32ToE4M3(1.1875f)); // halfway between 1.125 and 1.25: to the even code
        Assert.Equal(0x7E, Fp8.F32ToE4M3(1000f));
        Assert.Equal(0xFE, Fp8.F32ToE4M3(-1000f));
        Assert.Equal(0x01, Fp8.F32ToE4M3(MathF.Pow(2, -9)));
        Assert.Equal(0x00, Fp8.F32ToE4M3(MathF.Pow(2, -10))); // halfway between 0 and the smallest subnormal: to zero
        Assert.True(float.IsNaN(Fp8.E4M3ToF32(Fp8.F32ToE4M3(float.NaN))));
    }

    /// <summary>The CPU backend's decode path for Q8_0/Q4_0 (≤ 8 rows) dots integer codes against Q8_0-quantized activations.</summary>
    private static bool QuantizesActivations(string backend, DType format, int rows) => backend == "cpu" && format is DType.Q8_0 or DType.Q4_0 && rows <= 8;

    private static (byte[] Stored, float[]? Scale, float[] Dequantized) Stored(float[] source, int n, int k, DType format)
    {
        if (format.IsFloat())
        {
            byte[] bytes = HostTensors.EncodeFloats(source, format);
            return (bytes, null, HostTensors.DecodeFloats(bytes, format));
        }

        QuantizedMatrix q = WeightQuantizer.Quantize(source, n, k, format);
        if (q.Scale is null)
        {
            return (q.Data, null, WeightQuantizer.Dequantize(q));
        }

        float[] perTensor = [q.Scale.Max()]; // one scale for the whole tensor, as FP8 checkpoints often have
        return (q.Data, perTensor, WeightQuantizer.Dequantize(q with { Scale = perTensor }));
    }

    private static DType Format(string label) => Enum.GetValues<DType>().Single(d => d.Label() == label);

    private static float[] Random(Random rng, int count, float scale) => [.. Enumerable.Range(0, count).Select(_ => ((rng.NextSingle() * 2) - 1) * scale)];
}

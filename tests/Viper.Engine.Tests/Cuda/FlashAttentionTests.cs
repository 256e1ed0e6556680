using Viper.Backends.Cpu;
using Viper.Cuda.Kernels;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// kernels/flash_attention.cu through the CUDA backend at every model head dim, with GQA, causal masking, padded
/// keys, several query/key tiles and single-token decode. The contract is flash-attention's: the error against an
/// f32 reference (on the same rounded inputs) is at most twice that of a naive same-precision implementation
/// (scores rounded to the dtype, softmax in f32 rounded to the dtype, P·V accumulated in f32).
/// </summary>
public class FlashAttentionTests
{
    public static TheoryData<string, DType, int> Cases()
    {
        var data = new TheoryData<string, DType, int>();
        foreach (string backend in TestBackends.Names)
        {
            if (!backend.StartsWith("cuda", StringComparison.Ordinal))
            {
                continue;
            }

            foreach (int headDim in new[] { 40, 64, 72, 80, 96, 128, 160 })
            {
                data.Add(backend, headDim % 16 == 0 ? DType.BF16 : DType.F16, headDim);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void WithinTwiceTheNaiveErrorAtEveryModelHeadDim(string backend, DType dtype, int headDim)
    {
        using IBackend gpu = TestBackends.Create(backend);
        Check(gpu, dtype, batch: 2, tq: 70, tk: 90, hq: 4, hkv: 2, headDim, causal: true, lengths: [90, 77]);
        Check(gpu, dtype, batch: 1, tq: 1, tk: 67, hq: 2, hkv: 1, headDim, causal: true, lengths: null); // decode against a cache
        Check(gpu, dtype, batch: 1, tq: 65, tk: 77, hq: 2, hkv: 2, headDim, causal: false, lengths: null); // cross-attention
    }

    /// <summary>Split-KV decode (attention.cu's partial + combine passes): a few query rows against a long cache.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitKvDecodeWithinTwiceTheNaiveError(string backend, DType dtype, int headDim)
    {
        using IBackend gpu = TestBackends.Create(backend);
        Assert.True(Launchers.SplitKv(2, 3, 4, 1100, Viper.Cuda.Emulation.EmulatedDevice.DefaultMultiprocessors).Splits > 1);
        Check(gpu, dtype, batch: 2, tq: 3, tk: 1100, hq: 4, hkv: 2, headDim, causal: true, lengths: [1100, 530]);
        Check(gpu, DType.F32, batch: 1, tq: 1, tk: 700, hq: 2, hkv: 1, headDim, causal: false, lengths: null);
    }

    /// <summary>
    /// A GPU without the shared memory for flash attention's tiles (here 48 KiB against 61 KiB at head dim 160) runs the
    /// row kernel instead: within the same bound, and not the flash kernel's bits.
    /// </summary>
    [Fact]
    public void ADeviceWithLessSharedMemoryFallsBackToTheRowKernel()
    {
        Assert.True(Launchers.FlashAttention(1, 20, 2, 160).SharedBytes > 48 * 1024);
        using var small = new Viper.Cuda.Backend.CudaBackend(new Viper.Cuda.Emulation.EmulatedDevice(maxSharedBytesPerBlock: 48 * 1024));
        Check(small, DType.F16, batch: 1, tq: 20, tk: 20, hq: 2, hkv: 2, headDim: 160, causal: true, lengths: null);
        using var large = new Viper.Cuda.Backend.CudaBackend(new Viper.Cuda.Emulation.EmulatedDevice());
        float[] values = KernelOpTests.Random(new Random(5), new Shape(20 * 2 * 160));
        var options = new AttentionOptions(2, 2, 160) { Causal = true };
        byte[] Run(IBackend b)
        {
            using Tensor q = b.FromFloats(values, new Shape(1, 20, 320), DType.F16);
            using Tensor y = b.Attention(q, q, q, options);
            return y.ToBytes();
        }

        Assert.NotEqual(Run(large), Run(small));
    }

    [Fact]
    public void SplitKvChunksCoverEveryKeyInWholeTiles()
    {
        foreach ((int batch, int queries, int heads, int keys) in new[] { (1, 1, 32, 4096), (2, 3, 4, 1100), (1, 1, 1, 257), (4, 8, 32, 16384) })
        {
            (int splits, int chunk) = Launchers.SplitKv(batch, queries, heads, keys, 132);
            Assert.True(splits >= 1 && chunk % Launchers.AttentionRowsBlock == 0, $"{splits} × {chunk}");
            Assert.True(splits * chunk >= keys && (splits - 1) * chunk < keys, $"{splits} × {chunk} for {keys} keys");
        }

        Assert.Equal(1, Launchers.SplitKv(1, Launchers.SplitKvMaxQueries + 1, 8, 4096, 132).Splits);
        Assert.True(Launchers.SplitKv(1, 1, 8, 16384, 16).Splits < Launchers.SplitKv(1, 1, 8, 16384, 132).Splits); // a smaller GPU gets fewer splits
    }

    private static void Check(IBackend gpu, DType dtype, int batch, int tq, int tk, int hq, int hkv, int headDim, bool causal, int[]? lengths)
    {
        using var cpu = new CpuBackend(1);
        var rng = new Random(headDim + tq);
        float[] q = Rounded(cpu, KernelOpTests.Random(rng, new Shape(batch * tq * hq * headDim)), dtype);
        float[] k = Rounded(cpu, KernelOpTests.Random(rng, new Shape(batch * tk * hkv * headDim)), dtype);
        float[] v = Rounded(cpu, KernelOpTests.Random(rng, new Shape(batch * tk * hkv * headDim)), dtype);
        float scale = 1f / MathF.Sqrt(headDim);
        float[] reference = ScalarReference.Attention(q, k, v, batch, tq, tk, hq, hkv, headDim, causal, lengths, scale);
        float[] naive = NaiveSamePrecision(cpu, q, k, v, batch, tq, tk, hq, hkv, headDim, causal, lengths, scale, dtype);
        var options = new AttentionOptions(hq, hkv, headDim)
        {
            Causal = causal,
            KeyLengths = lengths is null ? null : gpu.FromInts(lengths, new Shape(batch)),
        };
        float[] flash = gpu.Attention(gpu.FromFloats(q, new Shape(batch, tq, hq * headDim), dtype), gpu.FromFloats(k, new Shape(batch, tk, hkv * headDim), dtype),
            gpu.FromFloats(v, new Shape(batch, tk, hkv * headDim), dtype), options).ToFloats();
        double naiveError = Tolerance.MaxAbsError(reference, naive), flashError = Tolerance.MaxAbsError(reference, flash);
        double ulp = reference.Max(x => Math.Abs((double)x)) * (dtype switch { DType.BF16 => 1.0 / 256, DType.F16 => 1.0 / 2048, _ => 1e-6 });
        Assert.True(flashError <= (2 * naiveError) + ulp,
            $"D={headDim} {dtype} Tq={tq} Tk={tk}: error {flashError:g3} vs naive {naiveError:g3}");
    }

    private static float[] NaiveSamePrecision(CpuBackend cpu, float[] q, float[] k, float[] v, int batch, int tq, int tk, int hq, int hkv, int d,
        bool causal, int[]? lengths, float scale, DType dtype)
    {
        float[] y = new float[batch * tq * hq * d];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < hq; h++)
        for (int i = 0; i < tq; i++)
        {
            int kvh = h / (hq / hkv);
            int visible = Math.Min(lengths?[b] ?? tk, causal ? i + (tk - tq) + 1 : tk);
            float[] s = new float[visible];
            for (int j = 0; j < visible; j++)
            {
                float dot = 0;
                for (int c = 0; c < d; c++)
                {
                    dot += q[(((b * tq) + i) * hq * d) + (h * d) + c] * k[(((b * tk) + j) * hkv * d) + (kvh * d) + c];
                }

                s[j] = dot * scale;
            }

            float[] scores = Rounded(cpu, s, dtype);
            float max = scores.Max();
            float[] e = [.. scores.Select(x => MathF.Exp(x - max))];
            float sum = e.Sum();
            float[] p = Rounded(cpu, [.. e.Select(x => x / sum)], dtype); // softmax in f32 of the rounded scores, rounded once
            for (int c = 0; c < d; c++)
            {
                float acc = 0;
                for (int j = 0; j < visible; j++)
                {
                    acc += p[j] * v[(((b * tk) + j) * hkv * d) + (kvh * d) + c];
                }

                y[(((b * tq) + i) * hq * d) + (h * d) + c] = acc;
            }
        }

        return Rounded(cpu, y, dtype);
    }

    private static float[] Rounded(CpuBackend cpu, float[] values, DType dtype) => cpu.FromFloats(values, new Shape(values.Length), dtype).ToFloats();
}

using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cpu;

/// <summary>
/// Two CPU backends with disjoint thread budgets in one process, run at the same time: their GEMMs take turns under the
/// OpenBLAS lock (each at its own thread count), everything else runs side by side — and every result is the one each
/// backend gives alone, bit for bit.
/// </summary>
public class SideBySideBackendsTests
{
    [Fact]
    public async Task ConcurrentBackendsGiveTheResultsTheyGiveAlone()
    {
        using var one = new CpuBackend(threads: 1);
        using var two = new CpuBackend(threads: 2);
        var random = new Random(5);
        float[] Values(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        float[] x = Values(48 * 96), w = Values(80 * 96), bias = Values(80);

        // A prefill-sized linear (the BLAS GEMM), a decode-sized one (the streaming GEMV) and a norm, repeated.
        float[][] Work(CpuBackend b)
        {
            using Tensor xs = b.FromFloats(x, new Shape(48, 96)), ws = b.FromFloats(w, new Shape(80, 96), DType.BF16), bs = b.FromFloats(bias, new Shape(80));
            var outputs = new List<float[]>();
            for (int i = 0; i < 20; i++)
            {
                using Tensor prefill = b.Linear(xs, ws, bs);
                using Tensor decode = b.Linear(xs.Slice(i, 1), ws, bs);
                using Tensor normed = b.RmsNorm(prefill, bs, 1e-6f);
                outputs.AddRange([prefill.ToFloats(), decode.ToFloats(), normed.ToFloats()]);
            }

            return [.. outputs];
        }

        float[][] aloneOne = Work(one), aloneTwo = Work(two);
        float[][][] together = await Task.WhenAll(Task.Run(() => Work(one)), Task.Run(() => Work(two)));
        Assert.Equal(aloneOne, together[0]);
        Assert.Equal(aloneTwo, together[1]);
    }
}

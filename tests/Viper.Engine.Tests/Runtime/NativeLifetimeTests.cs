using System.Diagnostics;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Runtime;

/// <summary>
/// Native memory stays alive while native code uses it. Every op here takes temporaries nobody keeps a reference to
/// (<c>op(tmp).ToFloats()</c>): once a temporary's address has been read, only the op's own frame holds it, so without
/// the backend layer's keep-alive a finalizer running on another thread frees (CPU) or re-lends (GPU pool) its memory
/// during the copy, kernel or GEMM. One thread forces collections and finalizers in a loop while the ops run; every
/// result is compared with the values computed on the host. Before the fix this failed within a second on the emulated
/// device (ObjectDisposedException: the pool's block had been finalized together with the buffer lent over it, the
/// CI failure's "memcpy … outside an emulated device allocation"); the CPU backend's race is real but was not hit here.
/// </summary>
public class NativeLifetimeTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(6);

    /// <summary>Rounds run whatever the clock says, so a loaded machine still exercises every op many times.</summary>
    private const int MinRounds = 20;

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void OpsOnUnreferencedTemporariesSurviveFinalizers(string backendName)
    {
        using IBackend ops = TestBackends.Create(backendName);
        var rng = new Random(17);
        var big = new Shape(64, 1024); // 256 KiB in f32 through the kernels (the emulated device runs them slowly)
        float[] a = Values(rng, big), b = Values(rng, big);
        float[] sum = a.Zip(b, (x, y) => x + y).ToArray();
        var huge = new Shape(1024, 4096); // 16 MiB: a download that lasts milliseconds
        float[] h = Values(rng, huge);
        var gemm = new Shape(1, 64, 128); // a GEMM in BLAS or on the device: native code a collection can overlap
        float[] m = Values(rng, gemm), n = Values(rng, gemm);
        float[] product = MatMulReference(m, n, 64, 128);
        var attention = new AttentionOptions(2, 2, 16);
        var qkv = new Shape(1, 8, 32);
        float[] q = Values(rng, qkv);
        float[] attended = ops.Attention(ops.FromFloats(q, qkv), ops.FromFloats(q, qkv), ops.FromFloats(q, qkv), attention).ToFloats();

        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Thread.Sleep(1); // hundreds of collections a second, and the ops still get the CPU between them
            }
        });
        collector.Start();

        int rounds = 0;
        try
        {
            var clock = Stopwatch.StartNew();
            while (rounds < MinRounds || clock.Elapsed < Budget)
            {
                Same(h, ops.FromFloats(h, huge).ToFloats(), "16 MiB download");
                Same(sum, ops.Add(ops.FromFloats(a, big), ops.FromFloats(b, big)).ToFloats(), "add");
                Same(a, ops.Cast(ops.Cast(ops.FromFloats(a, big), DType.F32), DType.F32).ToFloats(), "casts");
                Same(b.AsSpan(1024).ToArray(), ops.FromFloats(b, big).Slice(1, 63).ToFloats(), "view");
                Tensor into = ops.Allocate(big, DType.F32);
                ops.CopyInto(ops.FromFloats(a, big), into);
                Same(a, into.ToFloats(), "copy into");
                into.Dispose();
                AssertClose(product, ops.MatMul(ops.FromFloats(m, gemm), ops.FromFloats(n, gemm), transposeB: true).ToFloats());
                AssertClose(attended, ops.Attention(ops.FromFloats(q, qkv), ops.FromFloats(q, qkv), ops.FromFloats(q, qkv), attention).ToFloats());
                rounds++;
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }

        Console.WriteLine($"{backendName}: {rounds} rounds of copies, casts, views, GEMMs and attention on unreferenced temporaries");
    }

    private static float[] Values(Random rng, Shape shape) =>
        Enumerable.Range(0, checked((int)shape.ElementCount)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    /// <summary>m (rows, k) · nᵀ for n (rows, k), in f64.</summary>
    private static float[] MatMulReference(float[] m, float[] n, int rows, int k)
    {
        var result = new float[rows * rows];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < rows; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    s += (double)m[i * k + p] * n[j * k + p];
                }

                result[i * rows + j] = (float)s;
            }
        }

        return result;
    }

    // Bit-equal (NaN poison included), without xunit's per-element comparer: rounds stay fast enough to run many.
    private static void Same(float[] expected, float[] actual, string what)
    {
        int first = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(first == expected.Length && actual.Length == expected.Length,
            first < Math.Min(expected.Length, actual.Length) ? $"{what}: element {first} is {actual[first]}, expected {expected[first]}" : $"{what}: {actual.Length} values, expected {expected.Length}");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-4f + 1e-4f * MathF.Abs(expected[i]),
                $"element {i}: {actual[i]} where {expected[i]} was expected");
        }
    }
}

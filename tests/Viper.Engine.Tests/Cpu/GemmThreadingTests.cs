using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cpu;

/// <summary>
/// OpenBLAS has one process-wide thread count and its sums depend on it (on this machine's Haswell kernels a
/// 512×64×64 GEMM differs in ~15% of its outputs between 1 and 2 threads). A backend's results must not change
/// because another backend with a different count was made or is running.
/// </summary>
public class GemmThreadingTests
{
    private static readonly Shape InputShape = new(512, 64);

    [Fact]
    public void AnotherBackendsThreadCountDoesNotChangeResults()
    {
        using var two = new CpuBackend(2);
        float[] alone = Project(two);
        using var one = new CpuBackend(1);
        Project(one);
        Assert.Equal(alone, Project(two));
    }

    [Fact]
    public async Task BackendsRunningAtOnceKeepTheirOwnResults()
    {
        using var two = new CpuBackend(2);
        using var one = new CpuBackend(1);
        float[] expectedTwo = Project(two);
        float[] expectedOne = Project(one);
        using var stop = new CancellationTokenSource();
        Task other = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(expectedOne, Project(one));
            }
        });
        try
        {
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(expectedTwo, Project(two));
            }
        }
        finally
        {
            stop.Cancel();
        }

        await other;
    }

    private static float[] Project(CpuBackend b)
    {
        var random = new Random(7);
        float[] x = Enumerable.Range(0, (int)InputShape.ElementCount).Select(_ => random.NextSingle() - 0.5f).ToArray();
        float[] w = Enumerable.Range(0, 64 * 64).Select(_ => random.NextSingle() - 0.5f).ToArray();
        using Tensor input = b.FromFloats(x, InputShape);
        using Tensor weight = b.FromFloats(w, new Shape(64, 64));
        using Tensor y = b.Linear(input, weight, null);
        return y.ToFloats();
    }
}

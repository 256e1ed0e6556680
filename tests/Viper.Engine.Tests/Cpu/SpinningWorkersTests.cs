using Viper.Backends.Cpu;

namespace Viper.Engine.Tests.Cpu;

/// <summary>The CPU backend's worker threads: every item once, failures rethrown, loops inside loops and loops from several threads at once.</summary>
public class SpinningWorkersTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void EveryItemRunsOnceInEveryLoop(int threads)
    {
        SpinningWorkers workers = SpinningWorkers.For(threads);
        for (int count = 0; count < 300; count += 7)
        {
            var runs = new int[count];
            workers.Run(count, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void WorkersShareTheItemsOfALoop()
    {
        SpinningWorkers workers = SpinningWorkers.For(2);
        var threadIds = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
        for (int attempt = 0; attempt < 50 && threadIds.Count < 2; attempt++)
        {
            workers.Run(64, _ =>
            {
                threadIds[Environment.CurrentManagedThreadId] = true;
                Thread.SpinWait(20_000);
            });
        }

        Assert.Equal(2, threadIds.Count);
    }

    [Fact]
    public void AFailingItemIsRethrownAndTheWorkersGoOn()
    {
        SpinningWorkers workers = SpinningWorkers.For(2);
        var ran = new int[100];
        var error = Assert.Throws<InvalidOperationException>(() => workers.Run(100, i =>
        {
            Interlocked.Increment(ref ran[i]);
            if (i == 10)
            {
                throw new InvalidOperationException("item 10");
            }
        }));
        Assert.Equal("item 10", error.Message);
        Assert.All(ran, r => Assert.InRange(r, 0, 1));

        var again = new int[100];
        workers.Run(100, i => Interlocked.Increment(ref again[i]));
        Assert.All(again, r => Assert.Equal(1, r));
    }

    [Fact]
    public void ALoopInsideAnItemAndLoopsFromOtherThreadsComplete()
    {
        SpinningWorkers workers = SpinningWorkers.For(2);
        long total = 0;
        Parallel.For(0, 4, _ => workers.Run(8, i => workers.Run(16, j => Interlocked.Add(ref total, 1 + i + j))));

        // Per outer run: Σ_i Σ_j (1 + i + j) = 8·16 + 16·28 + 8·120 = 1536.
        Assert.Equal(4 * 1536, total);
    }
}

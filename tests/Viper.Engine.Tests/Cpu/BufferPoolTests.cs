using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cpu;

public class BufferPoolTests
{
    [Theory]
    [InlineData(1, 4096)]
    [InlineData(4096, 4096)]
    [InlineData(4097, 8192)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (1 << 17))] // eighths of the power of two below
    [InlineData(42L * 1024 * 1024, 44L * 1024 * 1024)] // 4 MiB steps above 32 MiB
    public void SizeClassesWasteAtMostAnEighth(long bytes, long expected)
    {
        Assert.Equal(expected, BufferPool.SizeClass(bytes));
        Assert.True(BufferPool.SizeClass(bytes) <= Math.Max(bytes * 9 / 8, bytes + 4096));
    }

    [Fact]
    public void FreedTensorMemoryIsReusedAndZeroedWhenAskedFor()
    {
        using var cpu = new CpuBackend(1);
        Tensor first = cpu.FromFloats([1f, 2f, 3f], new Shape(3));
        first.Dispose();
        Assert.Equal(4096, cpu.CachedBytes);
        using Tensor second = cpu.Allocate(new Shape(3), DType.F32);
        Assert.Equal(0, cpu.CachedBytes);
        Assert.Equal([0f, 0f, 0f], second.ToFloats());
    }

    [Fact]
    public void MemoryBeyondTheCapacityIsFreedNotCached()
    {
        using var cpu = new CpuBackend(1, cacheBytes: 8192);
        var tensors = Enumerable.Range(0, 3).Select(_ => cpu.Allocate(new Shape(1000), DType.F32)).ToList();
        tensors.ForEach(t => t.Dispose());
        Assert.Equal(8192, cpu.CachedBytes);
    }

    [Fact]
    public void ReleasingTheCacheFreesWhatIsCachedAndKeepsWhatIsRented()
    {
        using var cpu = new CpuBackend(1);
        using Tensor kept = cpu.FromFloats([5f, 6f], new Shape(2));
        cpu.Allocate(new Shape(1000), DType.F32).Dispose();
        Assert.Equal(4096, cpu.CachedBytes);
        cpu.ReleaseCachedMemory();
        Assert.Equal(0, cpu.CachedBytes);
        Assert.Equal([5f, 6f], kept.ToFloats());
        using Tensor fresh = cpu.FromFloats([1f], new Shape(1));
        Assert.Equal([1f], fresh.ToFloats());
    }

    [Fact]
    public void DisposingTwiceReturnsOnceAndUseAfterDisposeThrows()
    {
        using var cpu = new CpuBackend(1);
        Tensor t = cpu.Allocate(new Shape(4), DType.F32);
        t.Dispose();
        t.Dispose();
        Assert.Equal(4096, cpu.CachedBytes);
        Assert.Throws<ObjectDisposedException>(() => t.ToFloats());
    }
}

using Viper.Cuda.Backend;
using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// The CUDA backend's caching allocator (<see cref="DevicePool"/>) on the emulated device: blocks are reused instead of
/// allocated, an out-of-memory first releases the cache and retries, a real one is a typed error after which the backend
/// works on, and repeated generations take no new device memory after the first.
/// </summary>
public sealed class DevicePoolTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    [Theory]
    [InlineData(1, 512)]
    [InlineData(512, 512)]
    [InlineData(513, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData((1 << 20) + 1, (1 << 20) + (128 << 10))]
    [InlineData(5_000_000, 5_111_808)]
    public void SizeClassesRoundSmallBlocksTo512BytesAndLargeOnesTo128KiB(long bytes, long expected) =>
        Assert.Equal(expected, DevicePool.SizeClass(bytes));

    /// <summary>
    /// The pool's lifetime rule: a block comes back only when its buffer is released, and a buffer a native call holds
    /// (<see cref="DeviceBuffer.Hold"/>) is released when that call ends, even if its owner disposed it meanwhile; a block
    /// that came back reads as NaN bytes on the emulated device, and a lent block survives collections with no other
    /// reference to it than the buffer lent over it.
    /// </summary>
    [Fact]
    public void ABlockReturnsOnlyWhenItsBufferIsReleasedAndNoCallHoldsIt()
    {
        var device = new EmulatedDevice();
        using var pool = new DevicePool(device);
        DeviceBuffer buffer = pool.Allocate(4096);
        device.CopyToDevice(buffer, new byte[4096]);
        using (DeviceBuffer.Lease held = buffer.Hold())
        {
            buffer.Dispose(); // another thread disposing it, say
            Assert.Equal(4096, pool.Statistics.InUseBytes);
        }

        Assert.Equal(0, pool.Statistics.InUseBytes);
        DeviceBuffer again = pool.Allocate(4096);
        Assert.Equal(1, pool.Statistics.Reuses);
        var bytes = new byte[4096];
        device.CopyToHost(again, bytes);
        Assert.All(bytes, b => Assert.Equal(0xFF, b));
        again.Dispose();

        // Lent buffers dropped without Dispose: their finalizers give the blocks back, which stay usable.
        DropLentBuffers(pool);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(0, pool.Statistics.InUseBytes);
        for (int i = 0; i < 8; i++)
        {
            using DeviceBuffer reused = pool.Allocate(4096 * (i + 2));
            device.Fill(reused, 1); // throws if the block's own handle had been finalized under the cache
        }
    }

    // In a frame of its own, so no stack slot of the test still refers to the buffers when it collects.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void DropLentBuffers(DevicePool pool)
    {
        for (int i = 0; i < 8; i++)
        {
            _ = pool.Allocate(4096 * (i + 2));
        }
    }

    [Fact]
    public void AFreedBlockIsLentAgainWithoutTouchingTheDevice()
    {
        using var b = new CudaBackend(new EmulatedDevice());
        using (Tensor first = b.Allocate(new Shape(1000), DType.F32))
        {
        }

        MemoryStatistics before = b.Memory;
        using (Tensor second = b.Allocate(new Shape(1000), DType.F32))
        {
            MemoryStatistics during = b.Memory;
            Assert.Equal(before.DeviceAllocations, during.DeviceAllocations);
            Assert.Equal(before.Reuses + 1, during.Reuses);
            Assert.Equal(before.InUseBytes + 4000, during.InUseBytes);
            Assert.Equal(0, during.CachedBytes - (before.CachedBytes - 4000));
        }

        Assert.Equal(before.CachedBytes, b.Memory.CachedBytes);
        b.ReleaseCachedMemory();
        Assert.Equal(0, b.Memory.CachedBytes);
        Assert.Equal(b.Memory.InUseBytes, b.Memory.ReservedBytes);
    }

    [Fact]
    public void OutOfMemoryReleasesTheCacheRetriesAndOtherwiseIsATypedErrorTheBackendSurvives()
    {
        using var b = new CudaBackend(new EmulatedDevice(memoryLimitBytes: 1 << 20));
        long baseline = b.Memory.ReservedBytes;
        Tensor kept = b.Allocate(new Shape(75_000), DType.F32); // 300 kB
        b.Allocate(new Shape(75_000), DType.F32).Dispose();
        b.Allocate(new Shape(75_001), DType.F32).Dispose(); // 600 kB cached in two blocks
        Assert.Equal(600_004, b.Memory.CachedBytes);

        // 500 kB more does not fit beside 900 kB held: the cache goes back to the device and the retry succeeds.
        using (Tensor large = b.Allocate(new Shape(125_000), DType.F32))
        {
            Assert.Equal(0, b.Memory.CachedBytes);
        }

        var e = Assert.Throws<GpuOutOfMemoryException>(() => b.Allocate(new Shape(1 << 20), DType.F32));
        Assert.Contains("GPU out of memory allocating 4,194,304 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("in use", e.Message, StringComparison.Ordinal);

        using Tensor x = b.FromFloats([1f, 2f, 3f], new Shape(3));
        using Tensor y = b.Add(x, x);
        Assert.Equal([2f, 4f, 6f], y.ToFloats());
        kept.Dispose();
        Assert.True(b.Memory.ReservedBytes - baseline <= 1 << 20);
    }

    /// <summary>
    /// Generations (tiny-sd, 16×16, one step: text encoder, UNet, VAE decode on the emulated device) take every
    /// block from the cache after the first: no device allocation, the reserved bytes unchanged, nothing left in use.
    /// 100 of them, about 2 s each on the emulator.
    /// </summary>
    [Fact]
    public void AHundredGenerationsTakeNoNewDeviceMemoryAfterTheFirst()
    {
        const int generations = 100;
        using var b = new CudaBackend(new EmulatedDevice());
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sd, b);
        long weights = b.Memory.InUseBytes;
        var request = new GenerationRequest { Prompt = "a cat", Steps = 1, Width = 16, Height = 16, Seed = 1 };
        pipeline.Generate(request);
        MemoryStatistics first = b.Memory;
        for (int i = 1; i < generations; i++)
        {
            pipeline.Generate(request with { Seed = (ulong)i });
        }

        MemoryStatistics last = b.Memory;
        Assert.Equal(first.DeviceAllocations, last.DeviceAllocations);
        Assert.Equal(first.ReservedBytes, last.ReservedBytes);
        Assert.Equal(weights, last.InUseBytes);
        Assert.True(last.Reuses > first.Reuses * (generations / 2), last.ToString());
    }
}

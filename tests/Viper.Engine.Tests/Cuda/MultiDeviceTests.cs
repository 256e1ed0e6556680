using System.Runtime.InteropServices;
using Viper.Cuda.Backend;
using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// Several devices: emulated devices with their own memory limits that run launches side by side, GPU contexts shared by
/// the backends on one device, and tensors moving between backends (device copies and the host-staged path).
/// </summary>
public class MultiDeviceTests
{
    [Fact]
    public void EachEmulatedDeviceHasItsOwnMemoryLimit()
    {
        using CudaBackend small = TwoDevices.Backend(1, memoryLimitBytes: 1 << 20), large = TwoDevices.Backend(0, memoryLimitBytes: 64 << 20);
        using Tensor onLarge = large.Allocate(new Shape(1 << 20), DType.F32); // 4 MiB: over device 1's limit, within device 0's
        var e = Assert.Throws<GpuOutOfMemoryException>(() => small.Allocate(new Shape(1 << 20), DType.F32));
        Assert.Contains("GPU out of memory allocating 4,194,304 bytes", e.Message);
        Assert.IsAssignableFrom<IMemoryShortage>(e);
        Assert.Equal("emulated CUDA device 1", small.Device.Name);
        Assert.Equal(1, small.Device.Ordinal);
        using Tensor fits = small.Allocate(new Shape(1000), DType.F32); // the failure cost nothing
    }

    [Fact]
    public async Task LaunchesOnTwoDevicesRunAtTheSameTime()
    {
        // Each launch waits for the other's flag: serialised launches would let the first one run out its wait and see 0.
        // Each on a thread of its own (LongRunning), not a pool thread: on a busy 2-core CI run the pool started the
        // second launch only after the first had spun out its wait (seen as [1, 0]), which says nothing about the devices.
        using EmulatedDevice first = EmulatedDeviceTests.DeviceWithTestKernels();
        using var second = new EmulatedDevice(ordinal: 1, threads: TwoDevices.SecondThreads);
        using DeviceBuffer flags = first.Allocate(2 * sizeof(int)), seen = first.Allocate(2 * sizeof(int));
        first.Fill(flags, 0);
        first.Fill(seen, 0);
        const long Spins = 4_000_000_000;
        Task[] launches =
        [
            Task.Factory.StartNew(() => first.Launch("rendezvous_probe", new Dim3(1), new Dim3(1), 0, new KernelArgs().Add(flags).Add(seen).Add(0).Add(Spins)), TaskCreationOptions.LongRunning),
            Task.Factory.StartNew(() => second.Launch("rendezvous_probe", new Dim3(1), new Dim3(1), 0, new KernelArgs().Add(flags).Add(seen).Add(1).Add(Spins)), TaskCreationOptions.LongRunning),
        ];
        await Task.WhenAll(launches);
        int[] result = new int[2];
        first.CopyToHost(seen, MemoryMarshal.AsBytes(result.AsSpan()));
        Assert.Equal([1, 1], result);
    }

    [Fact]
    public void BackendsOnOneDeviceShareItsContextUntilTheLastCloses()
    {
        using var device = new EmulatedDevice(memoryLimitBytes: 16 << 20);
        var context = new GpuContext(device, ownsDevice: false);
        var first = new CudaBackend(context);
        using var second = new CudaBackend(context);
        Assert.Same(first.Context, second.Context);
        using (Tensor a = first.FromFloats([1f, 2f, 3f], new Shape(3)))
        {
            Assert.Equal(a.SizeInBytes, second.Memory.InUseBytes); // one pool: the second sees the first's tensor
        }

        Assert.True(second.Memory.CachedBytes > 0);
        second.ReleaseCachedMemory(); // releases the cache both backends fill
        Assert.Equal(0, first.Memory.CachedBytes);
        first.Dispose();
        using Tensor still = second.FromFloats([4f], new Shape(1)); // the context stays open for the other backend
        Assert.Equal([4f], still.ToFloats());
        second.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new CudaBackend(context)); // closed with its last backend
    }

    [Fact]
    public void GpuContextsOpensOneContextPerDevice()
    {
        using CudaBackend a = GpuContexts.Emulated(0), b = GpuContexts.Emulated(0);
        Assert.Same(a.Context, b.Context);
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuContexts.Emulated(5)); // VIPER_EMU_DEVICES is unset in the suite: one device
    }

    [Theory]
    [InlineData("cuda-emulated:0", "cuda-emulated:1")]
    [InlineData("cuda-emulated:1", "cuda-emulated:0")]
    [InlineData("cpu", "cuda-emulated:1")]
    [InlineData("cuda-emulated:1", "cpu")]
    [InlineData("cuda-emulated:0", "cuda-emulated:0")]
    public void TensorsMoveBetweenBackendsBitForBit(string from, string to)
    {
        using IBackend source = TwoDevices.Open(DeviceName.Parse(from, "from"));
        using IBackend target = from == to ? source : TwoDevices.Open(DeviceName.Parse(to, "to"));
        float[] values = [.. Enumerable.Range(0, 1000).Select(i => MathF.Sin(i) * 1e3f)];
        foreach (DType dtype in new[] { DType.F32, DType.BF16, DType.F16 })
        {
            using Tensor x = source.FromFloats(values, new Shape(10, 100), dtype);
            using Tensor rows = x.Slice(3, 4); // a view at an offset moves as its own values
            using Tensor moved = rows.CopyTo(target);
            Assert.Same(target, moved.Backend);
            Assert.Equal(rows.Shape, moved.Shape);
            Assert.Equal(rows.ToBytes(), moved.ToBytes());
        }

        using Tensor original = source.FromFloats(values, new Shape(1000));
        Tensor kept = original.MoveTo(source);
        Assert.Same(original, kept); // already there: nothing moves
    }

    [Fact]
    public void DeviceNamesAndEmulatorConfigurationAreParsedWithClearErrors()
    {
        Assert.Equal(new DeviceName("cuda", 0), DeviceName.Parse("cuda", "--place unet"));
        Assert.Equal(new DeviceName("cuda-emulated", 3), DeviceName.Parse("cuda-emulated:3", "--place unet"));
        Assert.Equal("cuda:1", DeviceName.Parse(" cuda:1 ", "x").ToString());
        Assert.Equal("--place unet: 'gpu:1' is not a device (cpu, cuda:N or cuda-emulated:N)",
            Assert.Throws<ArgumentException>(() => DeviceName.Parse("gpu:1", "--place unet")).Message);
        Assert.Contains("the cpu takes no number", Assert.Throws<ArgumentException>(() => DeviceName.Parse("cpu:1", "x")).Message);
        Assert.Contains("N is 0..63", Assert.Throws<ArgumentException>(() => DeviceName.Parse("cuda:x", "x")).Message);

        Assert.Equal([null], EmulatedDevices.Parse(null).MemoryLimits);
        Assert.Equal(2, EmulatedDevices.Parse("2").Count);
        Assert.Equal([6L << 30, null, 512L << 20], EmulatedDevices.Parse("6GiB, host, 512MiB").MemoryLimits);
        Assert.Contains("1 to 8 devices", Assert.Throws<ArgumentException>(() => EmulatedDevices.Parse("9")).Message);
        Assert.Contains("VIPER_EMU_DEVICES: 'lots' is not a size", Assert.Throws<ArgumentException>(() => EmulatedDevices.Parse("4GiB,lots")).Message);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), EmulatedDevices.Parse("2").ThreadsPerDevice);
        Assert.Null(EmulatedDevices.Parse("1").ThreadsPerDevice);
    }
}

using System.Runtime.InteropServices;
using Viper.Cuda.Device;
using Viper.Cuda.Emulation;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Xunit.Sdk;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// The emulated device itself: planted bugs are caught, warps and blocks synchronise as on the hardware,
/// graphs replay, and the reference GEMM is right. Test kernels: tests/kernels/planted.cu.
/// </summary>
public class EmulatedDeviceTests
{
    private static readonly Lazy<bool> TestKernels = new(() =>
    {
        using var device = new EmulatedDevice();
        Assert.True(device.HasKernel("add_f32")); // loads the device library first
        NativeLibrary.Load(Path.Combine(Path.GetDirectoryName(EmulatedDevice.LibraryPath)!, "libviper_emu_testkernels.so"));
        return true;
    });

    [Fact]
    public void PlantedOutOfBoundsWriteFailsTheLaunch()
    {
        using IGpuDevice device = DeviceWithTestKernels();
        using DeviceBuffer y = device.Allocate(100 * sizeof(float));
        var e = Assert.Throws<GpuException>(() =>
            device.Launch("planted_oob_write", new Dim3(1), new Dim3(128), 0, new KernelArgs().Add(y).Add(100L)));
        Assert.Contains("planted_oob_write: out-of-bounds write 0 bytes after the end of a 400-byte allocation", e.Message);
        device.Launch("scale_f32", new Dim3(1), new Dim3(128), 0, new KernelArgs().Add(y).Add(1f).Add(y).Add(100L)); // reported once, then repaired
    }

    [Fact]
    public void DeliberatelyWrongKernelFailsTheComparison()
    {
        using IGpuDevice device = DeviceWithTestKernels();
        var shape = new Shape(300);
        float[] a = KernelOpTests.Random(new Random(1), shape), b = KernelOpTests.Random(new Random(2), shape);
        using DeviceTensor da = DeviceTensor.FromFloats(device, a, shape, DType.F32), db = DeviceTensor.FromFloats(device, b, shape, DType.F32);
        using DeviceTensor dy = DeviceTensor.Allocate(device, shape, DType.F32);
        device.Launch("planted_wrong_add_f32", new Dim3(2), new Dim3(256), 0, new KernelArgs().Add(da.Buffer).Add(db.Buffer).Add(dy.Buffer).Add(300L));
        float[] expected = a.Zip(b, (x, y) => x + y).ToArray();
        Assert.ThrowsAny<XunitException>(() => Tolerance.CloseF32(expected, dy.ToFloats(), "planted wrong add"));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(96)]
    [InlineData(1024)]
    public void WarpsAndBlocksSynchroniseAsOnTheHardware(int threads)
    {
        using IGpuDevice device = DeviceWithTestKernels();
        using DeviceBuffer output = device.Allocate(threads * 4 * sizeof(int));
        device.Launch("warp_probe", new Dim3(3), new Dim3((uint)threads), 0, new KernelArgs().Add(output));
        int[] values = new int[threads * 4];
        device.CopyToHost(output, MemoryMarshal.AsBytes(values.AsSpan()));
        for (int t = 0; t < threads; t++)
        {
            int lane = t % 32;
            Assert.Equal(lane ^ 1, values[4 * t]);
            Assert.Equal(unchecked((int)0xAAAAAAAAu), values[(4 * t) + 1]);
            Assert.Equal(31 * 32 / 2, values[(4 * t) + 2]);
            Assert.Equal((t + 1) % threads * 10, values[(4 * t) + 3]);
        }
    }

    [Theory]
    [InlineData("planted_divergent_barrier", "different __syncthreads calls")]
    [InlineData("planted_divergent_shuffle", "divergent")]
    public void DivergentSynchronisationIsReportedNotHung(string kernel, string problem)
    {
        using IGpuDevice device = DeviceWithTestKernels();
        using DeviceBuffer output = device.Allocate(64 * sizeof(int));
        var e = Assert.Throws<GpuException>(() => device.Launch(kernel, new Dim3(1), new Dim3(64), 0, new KernelArgs().Add(output)));
        Assert.Contains(problem, e.Message);
        Assert.Contains("block 0,0,0", e.Message);
    }

    [Fact]
    public void BadLaunchesAreRejectedWithTheKernelsName()
    {
        using IGpuDevice device = DeviceWithTestKernels();
        using DeviceBuffer y = device.Allocate(16);
        Assert.Contains("no kernel named 'nope'", Assert.Throws<GpuException>(() => device.Launch("nope", new Dim3(1), new Dim3(1), 0, new KernelArgs())).Message);
        Assert.Contains("block of 2048 threads", Assert.Throws<GpuException>(() =>
            device.Launch("scale_f32", new Dim3(1), new Dim3(2048), 0, new KernelArgs().Add(y).Add(1f).Add(y).Add(4L))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.CopyToDevice(y, new byte[17]));
    }

    [Fact]
    public void CapturedGraphReplaysOnTheCurrentContentsOfItsBuffers()
    {
        using IGpuDevice device = DeviceWithTestKernels();
        var shape = new Shape(1000);
        using DeviceTensor a = DeviceTensor.FromFloats(device, Enumerable.Repeat(1f, 1000).ToArray(), shape, DType.F32);
        using DeviceTensor result = DeviceTensor.Allocate(device, shape, DType.F32);
        using DeviceGraph graph = device.Capture(() =>
            device.Launch("scale_f32", new Dim3(4), new Dim3(256), 0, new KernelArgs().Add(a.Buffer).Add(3f).Add(result.Buffer).Add(1000L)));
        Assert.Equal(1, graph.NodeCount);
        device.Fill(result.Buffer, 0); // device memory starts undefined, as from cudaMalloc
        Assert.All(result.ToFloats(), v => Assert.Equal(0f, v)); // recorded, not run
        graph.Replay();
        Assert.All(result.ToFloats(), v => Assert.Equal(3f, v));
        device.CopyToDevice(a.Buffer, MemoryMarshal.AsBytes(Enumerable.Repeat(2f, 1000).ToArray().AsSpan()));
        graph.Replay();
        Assert.All(result.ToFloats(), v => Assert.Equal(6f, v));
    }

    [Theory]
    [InlineData(false, false, DType.F32)]
    [InlineData(true, false, DType.F16)]
    [InlineData(false, true, DType.BF16)]
    public void ReferenceGemmMatchesTheCpuBackend(bool transposeA, bool transposeB, DType dtype)
    {
        using IGpuDevice device = DeviceWithTestKernels();
        using var cpu = new Viper.Backends.Cpu.CpuBackend(1);
        const int batch = 2, m = 13, n = 11, k = 37;
        var rng = new Random(4);
        float[] a = KernelOpTests.Random(rng, new Shape(batch, m, k)), b = KernelOpTests.Random(rng, new Shape(batch, k, n));
        float[] aStored = transposeA ? Transpose(a, batch, m, k) : a, bStored = transposeB ? Transpose(b, batch, k, n) : b;
        using DeviceTensor da = DeviceTensor.FromFloats(device, aStored, new Shape(aStored.Length), dtype);
        using DeviceTensor db = DeviceTensor.FromFloats(device, bStored, new Shape(bStored.Length), dtype);
        using DeviceTensor dc = DeviceTensor.Allocate(device, new Shape(batch * m * n), DType.F32);
        device.Gemm(new GemmDescriptor(transposeA, transposeB, m, n, k, 1f, da.Buffer.Address, transposeA ? m : k, m * k,
            db.Buffer.Address, transposeB ? k : n, k * n, 0f, dc.Buffer.Address, n, m * n, batch, dtype, DType.F32));
        float[] aRounded = cpu.FromFloats(a, new Shape(batch, m, k), dtype).ToFloats(), bRounded = cpu.FromFloats(b, new Shape(batch, k, n), dtype).ToFloats();
        float[] expected = cpu.MatMul(cpu.FromFloats(aRounded, new Shape(batch, m, k)), cpu.FromFloats(bRounded, new Shape(batch, k, n))).ToFloats();
        Tolerance.CloseF32(expected, dc.ToFloats(), $"gemm {dtype}");
    }

    private static float[] Transpose(float[] x, int batch, int rows, int cols)
    {
        float[] t = new float[x.Length];
        for (int p = 0; p < batch; p++)
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
        {
            t[(p * rows * cols) + (c * rows) + r] = x[(p * rows * cols) + (r * cols) + c];
        }

        return t;
    }

    internal static EmulatedDevice DeviceWithTestKernels()
    {
        Assert.True(TestKernels.Value);
        return new EmulatedDevice();
    }
}

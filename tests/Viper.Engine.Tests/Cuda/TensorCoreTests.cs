using System.Runtime.InteropServices;
using Viper.Cuda.Device;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>common.cuh's mma.sync / ldmatrix / cp.async wrappers and dynamic shared memory, through tests/kernels/tensor_cores.cu.</summary>
public class TensorCoreTests
{
    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void MmaTileFollowsThePtxFragmentLayouts(DType dtype)
    {
        using IGpuDevice device = EmulatedDeviceTests.DeviceWithTestKernels();
        var rng = new Random(13);
        // Small integers and halves are exact in f16/bf16 and their products sum exactly in f32, so D is exact.
        float[] a = Enumerable.Range(0, 16 * 16).Select(_ => rng.Next(-8, 9) / 2f).ToArray();
        float[] b = Enumerable.Range(0, 16 * 8).Select(_ => (float)rng.Next(-8, 9)).ToArray();
        float[] c = Enumerable.Range(0, 16 * 8).Select(_ => (float)rng.Next(-50, 51)).ToArray();
        float[] bt = new float[8 * 16];
        for (int k = 0; k < 16; k++)
        {
            for (int n = 0; n < 8; n++)
            {
                bt[(n * 16) + k] = b[(k * 8) + n];
            }
        }

        using DeviceTensor da = DeviceTensor.FromFloats(device, a, new Shape(16, 16), dtype);
        using DeviceTensor dbt = DeviceTensor.FromFloats(device, bt, new Shape(8, 16), dtype);
        using DeviceTensor dc = DeviceTensor.FromFloats(device, c, new Shape(16, 8), DType.F32);
        using DeviceTensor dd = DeviceTensor.Allocate(device, new Shape(16, 8), DType.F32);
        device.Launch(dtype == DType.F16 ? "mma_tile_f16" : "mma_tile_bf16", new Dim3(1), new Dim3(32), 0,
            new KernelArgs().Add(da.Buffer).Add(dbt.Buffer).Add(dc.Buffer).Add(dd.Buffer));
        float[] expected = new float[16 * 8];
        for (int m = 0; m < 16; m++)
        {
            for (int n = 0; n < 8; n++)
            {
                float acc = c[(m * 8) + n];
                for (int k = 0; k < 16; k++)
                {
                    acc += a[(m * 16) + k] * b[(k * 8) + n];
                }

                expected[(m * 8) + n] = acc;
            }
        }

        Assert.Equal(expected, dd.ToFloats());
    }

    [Fact]
    public void DynamicSharedMemoryIsSharedByTheBlock()
    {
        using IGpuDevice device = EmulatedDeviceTests.DeviceWithTestKernels();
        const int threads = 160, blocks = 3;
        using DeviceBuffer output = device.Allocate(threads * blocks * sizeof(int));
        device.Launch("dynamic_shared_probe", new Dim3(blocks), new Dim3(threads), threads * sizeof(int), new KernelArgs().Add(output));
        int[] values = new int[threads * blocks];
        device.CopyToHost(output, MemoryMarshal.AsBytes(values.AsSpan()));
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(threads - 1 - (i % threads), values[i]);
        }
    }

    [Fact]
    public void VectorLoadsMoveSixteenBytesPerAccess()
    {
        using IGpuDevice device = EmulatedDeviceTests.DeviceWithTestKernels();
        var shape = new Shape(8 * 100);
        float[] x = KernelOpTests.Random(new Random(3), shape);
        using DeviceTensor dx = DeviceTensor.FromFloats(device, x, shape, DType.F16);
        using DeviceTensor dy = DeviceTensor.Allocate(device, shape, DType.F16);
        device.Launch("vector_double_f16", new Dim3(2), new Dim3(32), 0, new KernelArgs().Add(dx.Buffer).Add(dy.Buffer).Add(shape.ElementCount));
        Assert.Equal(dx.ToFloats().Select(v => 2 * v), dy.ToFloats()); // ×2 is exact in f16 at these magnitudes
    }
}

using Viper.Backends.Cpu;
using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Cuda.Ops;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>kernels/elementwise.cu and kernels/reduce.cu against the CPU backend, on every test device.</summary>
public class KernelOpTests
{
    public static TheoryData<string, DType> DevicesAndTypes()
    {
        var data = new TheoryData<string, DType>();
        foreach (string device in TestDevices.Names)
        {
            foreach (DType t in new[] { DType.F32, DType.F16, DType.BF16 })
            {
                data.Add(device, t);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndTypes))]
    public void AddMulScaleMatchTheCpuBackendExactly(string deviceName, DType dtype)
    {
        using IGpuDevice device = TestDevices.Create(deviceName);
        using var cpu = new CpuBackend(1);
        var ops = new GpuOps(device);
        var rng = new Random(5);
        var shape = new Shape(3, 1000 + 37); // odd tail, more than one grid-stride block
        float[] a = Random(rng, shape), b = Random(rng, shape);
        using DeviceTensor da = DeviceTensor.FromFloats(device, a, shape, dtype), db = DeviceTensor.FromFloats(device, b, shape, dtype);
        Tensor ca = cpu.FromFloats(a, shape, dtype), cb = cpu.FromFloats(b, shape, dtype);
        // One f32 operation rounded once to the storage type: the result is exact, so equality is the contract.
        Assert.Equal(cpu.Add(ca, cb).ToFloats(), ops.Add(da, db).ToFloats());
        Assert.Equal(cpu.Mul(ca, cb).ToFloats(), ops.Mul(da, db).ToFloats());
        Assert.Equal(cpu.Scale(ca, 0.18215f).ToFloats(), ops.Scale(da, 0.18215f).ToFloats());
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void CastsMatchTheCpuBackendBitForBit(string deviceName)
    {
        using IGpuDevice device = TestDevices.Create(deviceName);
        using var cpu = new CpuBackend(1);
        var ops = new GpuOps(device);
        float[] values = [.. Random(new Random(9), new Shape(997)).Select(v => v * 70000f), 0f, -0f, 65504f, 65520f, 1e-8f, 3e-8f, 6e-8f, 1e-40f,
            float.PositiveInfinity, float.NegativeInfinity, 1.00048828125f, 3.4e38f];
        var shape = new Shape(values.Length);
        foreach ((DType from, DType to) in KernelTable.Casts())
        {
            float[] source = cpu.Cast(cpu.FromFloats(values, shape), from).ToFloats();
            using DeviceTensor x = DeviceTensor.FromFloats(device, source, shape, from);
            float[] expected = cpu.Cast(cpu.FromFloats(source, shape, from), to).ToFloats();
            Assert.Equal(expected, ops.Cast(x, to).ToFloats());
        }
    }

    [Theory]
    [MemberData(nameof(DevicesAndTypes))]
    public void RowSumsAndMeansMatchTheCpuBackend(string deviceName, DType dtype)
    {
        using IGpuDevice device = TestDevices.Create(deviceName);
        using var cpu = new CpuBackend(1);
        var ops = new GpuOps(device);
        foreach (var shape in new[] { new Shape(5, 1), new Shape(4, 31), new Shape(3, 77), new Shape(2, 3, 4099) })
        {
            float[] x = Random(new Random(shape.Last), shape);
            using DeviceTensor dx = DeviceTensor.FromFloats(device, x, shape, dtype);
            float[] stored = cpu.FromFloats(x, shape, dtype).ToFloats(); // the values as the dtype holds them
            float[] expected = cpu.Mean(cpu.FromFloats(stored, shape)).ToFloats(); // the device accumulates and returns f32
            Tolerance.Close(expected, ops.MeanRows(dx).ToFloats(), 1e-6f, 1e-5f, $"mean_rows {shape} {dtype}");
            float[] sums = ops.SumRows(dx).ToFloats();
            Tolerance.Close(expected.Select(m => m * shape.Last).ToArray(), sums, 1e-5f, 1e-5f, $"sum_rows {shape} {dtype}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void OpsRejectMismatchedTensors(string deviceName)
    {
        using IGpuDevice device = TestDevices.Create(deviceName);
        var ops = new GpuOps(device);
        using DeviceTensor a = DeviceTensor.Allocate(device, new Shape(4), DType.F32), b = DeviceTensor.Allocate(device, new Shape(4), DType.F16);
        Assert.Contains("expected [4] F32", Assert.Throws<ArgumentException>(() => ops.Add(a, b)).Message);
    }

    internal static float[] Random(Random rng, Shape shape) =>
        Enumerable.Range(0, (int)shape.ElementCount).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
}

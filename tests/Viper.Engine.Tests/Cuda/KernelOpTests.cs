using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Kernels;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>
/// kernels/elementwise.cu and kernels/reduce.cu through the CUDA backend against the CPU backend, on every test
/// device: single-rounding ops must agree exactly, reductions within f32 accumulation-order differences.
/// </summary>
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
        using var ops = new CudaBackend(TestDevices.Create(deviceName));
        using var cpu = new CpuBackend(1);
        var rng = new Random(5);
        var shape = new Shape(3, 1000 + 37); // odd tail, more than one grid-stride block
        float[] a = Random(rng, shape), b = Random(rng, shape);
        Tensor da = ops.FromFloats(a, shape, dtype), db = ops.FromFloats(b, shape, dtype);
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
        using var ops = new CudaBackend(TestDevices.Create(deviceName));
        using var cpu = new CpuBackend(1);
        float[] values = [.. Random(new Random(9), new Shape(997)).Select(v => v * 70000f), 0f, -0f, 65504f, 65520f, 1e-8f, 3e-8f, 6e-8f, 1e-40f,
            float.PositiveInfinity, float.NegativeInfinity, 1.00048828125f, 3.4e38f];
        var shape = new Shape(values.Length);
        foreach ((DType from, DType to) in KernelTable.Casts())
        {
            float[] source = cpu.Cast(cpu.FromFloats(values, shape), from).ToFloats();
            Tensor x = ops.FromFloats(source, shape, from);
            float[] expected = cpu.Cast(cpu.FromFloats(source, shape, from), to).ToFloats();
            Assert.Equal(expected, ops.Cast(x, to).ToFloats());
        }
    }

    [Theory]
    [MemberData(nameof(DevicesAndTypes))]
    public void RowMeansMatchTheCpuBackend(string deviceName, DType dtype)
    {
        using var ops = new CudaBackend(TestDevices.Create(deviceName));
        using var cpu = new CpuBackend(1);
        foreach (var shape in new[] { new Shape(5, 1), new Shape(4, 31), new Shape(3, 77), new Shape(2, 3, 4099) })
        {
            float[] x = Random(new Random(shape.Last), shape);
            float[] expected = cpu.Mean(cpu.FromFloats(x, shape, dtype)).ToFloats();
            float[] got = ops.Mean(ops.FromFloats(x, shape, dtype)).ToFloats();
            if (dtype == DType.F32)
            {
                Tolerance.Close(expected, got, 1e-6f, 1e-5f, $"mean {shape}");
            }
            else
            {
                // Both accumulate in f32 and round once; accumulation order may move the result by one ulp.
                Tolerance.Close(expected, got, 1e-6f, dtype == DType.BF16 ? 1f / 128 : 1f / 1024, $"mean {shape} {dtype}");
            }
        }
    }

    internal static float[] Random(Random rng, Shape shape) =>
        Enumerable.Range(0, (int)shape.ElementCount).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
}

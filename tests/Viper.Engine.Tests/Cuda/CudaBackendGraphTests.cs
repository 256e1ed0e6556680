using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Device;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Cuda;

/// <summary>A sequence of backend ops captured once as a graph and replayed on new inputs, against the CPU backend.</summary>
public class CudaBackendGraphTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void CapturedStepReplaysOnNewInputs(string deviceName)
    {
        using var cuda = new CudaBackend(TestDevices.Create(deviceName));
        using var cpu = new CpuBackend(1);
        var shape = new Shape(2, 6, 5, 32);
        var rng = new Random(17);
        float[] gamma = KernelOpTests.Random(rng, new Shape(32)), beta = KernelOpTests.Random(rng, new Shape(32));
        float[] bias = KernelOpTests.Random(rng, new Shape(32)), weight = KernelOpTests.Random(rng, new Shape(16, 32));
        using Tensor x = cuda.Allocate(shape, DType.F32);
        Tensor g = cuda.FromFloats(gamma, new Shape(32)), b = cuda.FromFloats(beta, new Shape(32)), t = cuda.FromFloats(bias, new Shape(32));
        Tensor wt = cuda.FromFloats(weight, new Shape(16, 32));
        Tensor? output = null;
        // The disposed intermediates lend their memory to later tensors of the recording; the GEMM is a node too.
        using DeviceGraph graph = cuda.Capture(() =>
        {
            using Tensor normed = cuda.GroupNorm(x, 8, g, b, 1e-5f, silu: true);
            using Tensor shifted = cuda.Add(normed, t);
            using Tensor halved = cuda.Scale(shifted, 0.5f);
            output = cuda.Linear(halved, wt, null);
        });
        Assert.True(graph.NodeCount >= 5);
        for (int step = 0; step < 3; step++)
        {
            float[] input = KernelOpTests.Random(new Random(step), shape);
            cuda.CopyFromHost(x, HostTensors.EncodeFloats(input, DType.F32));
            graph.Replay();
            Tensor expected = cpu.Linear(cpu.Scale(cpu.Add(cpu.GroupNorm(cpu.FromFloats(input, shape), 8, cpu.FromFloats(gamma, new Shape(32)),
                cpu.FromFloats(beta, new Shape(32)), 1e-5f, silu: true), cpu.FromFloats(bias, new Shape(32))), 0.5f), cpu.FromFloats(weight, new Shape(16, 32)), null);
            Tolerance.CloseF32(expected.ToFloats(), output!.ToFloats(), $"replay {step}");
        }
    }
}

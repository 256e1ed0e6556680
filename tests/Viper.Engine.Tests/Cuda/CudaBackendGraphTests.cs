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
            using Tensor normed = cuda.Diffusion().GroupNorm(x, 8, g, b, 1e-5f, silu: true);
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
            Tensor expected = cpu.Linear(cpu.Scale(cpu.Add(cpu.Diffusion().GroupNorm(cpu.FromFloats(input, shape), 8, cpu.FromFloats(gamma, new Shape(32)),
                cpu.FromFloats(beta, new Shape(32)), 1e-5f, silu: true), cpu.FromFloats(bias, new Shape(32))), 0.5f), cpu.FromFloats(weight, new Shape(16, 32)), null);
            Tolerance.CloseF32(expected.ToFloats(), output!.ToFloats(), $"replay {step}");
        }
    }
}

/// <summary>
/// Ops steered by values in device memory (embedding ids, attention key lengths, repetition-penalty ids) never read
/// them on the host: they capture into a graph, and a bad value planted after capture is raised at the next download.
/// </summary>
public class DeviceValueCheckTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Names), MemberType = typeof(TestDevices))]
    public void SteeredOpsCaptureAndABadValueIsRaisedAtTheNextSync(string deviceName)
    {
        using var cuda = new CudaBackend(TestDevices.Create(deviceName));
        using var cpu = new CpuBackend(1);
        var rng = new Random(5);
        float[] table = KernelOpTests.Random(rng, new Shape(12, 16));
        using Tensor tableGpu = cuda.FromFloats(table, new Shape(12, 16));
        using Tensor ids = cuda.FromInts([3, 7, 0, 11], new Shape(1, 4));
        using Tensor lengths = cuda.FromInts([3], new Shape(1));
        var attention = new AttentionOptions(2, 2, 8) { KeyLengths = lengths };
        Tensor? penalised = null;
        using DeviceGraph graph = cuda.Capture(() =>
        {
            using Tensor x = cuda.Embedding(tableGpu, ids);
            using Tensor attended = cuda.Attention(x, x, x, attention);
            using Tensor logits = attended.Reshape(4, 16);
            using Tensor rows = ids.Reshape(4, 1);
            penalised = cuda.Decoding().RepetitionPenalty(logits, rows, 1.3f);
        });

        graph.Replay();
        using Tensor xc = cpu.Embedding(cpu.FromFloats(table, new Shape(12, 16)), cpu.FromInts([3, 7, 0, 11], new Shape(1, 4)));
        using Tensor ac = cpu.Attention(xc, xc, xc, attention with { KeyLengths = cpu.FromInts([3], new Shape(1)) });
        using Tensor expected = cpu.Decoding().RepetitionPenalty(ac.Reshape(4, 16), cpu.FromInts([3, 7, 0, 11], new Shape(4, 1)), 1.3f);
        Tolerance.CloseF32(expected.ToFloats(), penalised!.ToFloats(), "replayed embedding → attention → penalty");

        foreach ((Tensor planted, int[] values, string message) in new[]
        {
            (ids, new[] { 3, 12, 0, 1 }, "embedding: id 12 outside a table of 12 rows"),
            (lengths, new[] { 5 }, "attention: key length 5 outside [1, 4]"),
        })
        {
            int[] good = planted.ToInts();
            cuda.CopyFromHost(planted, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            graph.Replay();
            var e = Assert.Throws<TensorValueException>(() => penalised!.ToFloats());
            Assert.Equal(message, e.Message);
            cuda.CopyFromHost(planted, System.Runtime.InteropServices.MemoryMarshal.AsBytes(good.AsSpan()));
            graph.Replay();
            cuda.Synchronize(); // the record was cleared when raised: a good replay is clean again
            Tolerance.CloseF32(expected.ToFloats(), penalised!.ToFloats(), "after the bad value");
        }
    }
}

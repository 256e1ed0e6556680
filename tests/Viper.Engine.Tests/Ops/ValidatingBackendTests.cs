using System.Reflection;
using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Ops are validated once, in <see cref="Backend"/>: every backend derives from it, none can replace a checked entry
/// point, and every op rejects a tensor of another backend (a check some backends used to skip for some ops).
/// </summary>
public class ValidatingBackendTests
{
    [Fact]
    public void EveryBackendDerivesFromTheValidatingBase()
    {
        Type[] implementations = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => a.GetName().Name!.StartsWith("Viper.", StringComparison.Ordinal) && !a.GetName().Name!.Contains("Tests", StringComparison.Ordinal))
            .SelectMany(a => a.GetTypes())
            .Where(t => t.IsClass && !t.IsAbstract && typeof(IBackend).IsAssignableFrom(t))
            .ToArray();
        Assert.Contains(typeof(CpuBackend), implementations);
        Assert.Contains(typeof(Viper.Cuda.Backend.CudaBackend), implementations);
        Assert.All(implementations, t => Assert.True(t.IsSubclassOf(typeof(Backend)), $"{t} implements IBackend without the validating base"));
    }

    [Fact]
    public void TheBaseOwnsEveryOpEntryPoint()
    {
        foreach (MethodInfo op in OpSurface.Methods)
        {
            MethodInfo entry = typeof(Backend).GetMethod(op.Name, op.GetParameters().Select(p => p.ParameterType).ToArray())!;
            bool validatedHere = !entry.IsAbstract && (!entry.IsVirtual || entry.IsFinal); // an interface implementation is "virtual final"
            bool exempt = op.Name is "get_Name" or "Allocate"; // nothing to validate
            Assert.True(validatedHere || exempt, $"Backend.{op.Name} can be replaced by a backend, skipping its checks");
        }
    }

    public static TheoryData<string, string> ForeignTensorCases()
    {
        var data = new TheoryData<string, string>();
        foreach (string backend in TestBackends.Names)
        {
            foreach (string op in Calls.Keys)
            {
                data.Add(backend, op);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ForeignTensorCases))]
    public void EveryOpRejectsATensorOfAnotherBackend(string backendName, string op)
    {
        using IBackend backend = TestBackends.Create(backendName);
        using var other = new CpuBackend(threads: 1);
        using Tensor foreign = other.FromFloats(new float[16], new Shape(1, 4, 4));
        var e = Assert.ThrowsAny<ArgumentException>(() => Calls[op](backend, foreign));
        Assert.Contains("belongs to backend", e.Message, StringComparison.Ordinal);
    }

    // Each call puts the foreign (1, 4, 4) f32 tensor in one argument; the others are valid tensors of the backend.
    private static readonly Dictionary<string, Action<IBackend, Tensor>> Calls = new()
    {
        ["Linear"] = (b, f) => b.Linear(f, Square(b), null),
        ["MatMul"] = (b, f) => b.MatMul(Cube(b), f),
        ["Conv2d"] = (b, f) => b.Conv2d(b.Allocate(new Shape(1, 4, 4, 1), DType.F32), f.Reshape(4, 2, 2, 1), null, new Conv2dOptions(1, default)),
        ["GroupNorm"] = (b, f) => b.Diffusion().GroupNorm(f, 2, Row(b), Row(b), 1e-5f),
        ["LayerNorm"] = (b, f) => b.LayerNorm(Cube(b), f.Reshape(16).Slice(0, 4), null, 1e-5f),
        ["RmsNorm"] = (b, f) => b.RmsNorm(f, Row(b), 1e-6f),
        ["Attention"] = (b, f) => b.Attention(Cube(b), f, Cube(b), new AttentionOptions(1, 1, 4)),
        ["AttentionMask"] = (b, f) => b.Attention(Cube(b), Cube(b), Cube(b), new AttentionOptions(1, 1, 4) { Bias = f.Reshape(1, 1, 4, 4) }),
        ["KvCacheWrite"] = (b, f) => b.Decoding().KvCacheWrite(f, Cube(b), b.FromInts([0], new Shape(1))),
        ["Activate"] = (b, f) => b.Activate(f, Activation.Silu),
        ["Geglu"] = (b, f) => b.Geglu(f),
        ["Swiglu"] = (b, f) => b.Swiglu(Cube(b), f),
        ["Add"] = (b, f) => b.Add(Cube(b), f),
        ["Mul"] = (b, f) => b.Mul(f, Cube(b)),
        ["Scale"] = (b, f) => b.Scale(f, 2f),
        ["Concat"] = (b, f) => b.Concat([Cube(b), f], 1),
        ["Split"] = (b, f) => b.Split(f, 2, [2, 2]),
        ["Narrow"] = (b, f) => b.Narrow(f, 2, 1, 2),
        ["UpsampleNearest2x"] = (b, f) => b.UpsampleNearest2x(f.Reshape(1, 2, 2, 4)),
        ["Embedding"] = (b, f) => b.Embedding(f.Reshape(4, 4), b.FromInts([0], new Shape(1))),
        ["TimestepEmbedding"] = (b, f) => b.Diffusion().TimestepEmbedding(f.Reshape(16), new TimestepEmbeddingOptions(8, true, 0f)),
        ["Rotary"] = (b, f) => b.Decoding().Rotary(f, b.FromInts([0, 1, 2, 3], new Shape(4)), 4, 10000f),
        ["Cast"] = (b, f) => b.Cast(f, DType.F16),
        ["Argmax"] = (b, f) => b.Decoding().Argmax(f),
        ["TopGap"] = (b, f) => b.Decoding().TopGap(f),
        ["RepetitionPenalty"] = (b, f) => b.Decoding().RepetitionPenalty(f.Reshape(4, 4), b.FromInts([0, 1, 2, 3], new Shape(4, 1)), 1.2f),
        ["Mean"] = (b, f) => b.Mean(f),
        ["SumLeading"] = (b, f) => b.SumLeading(f, 1),
        ["L2Normalize"] = (b, f) => b.L2Normalize(f),
        ["CopyInto"] = (b, f) => b.CopyInto(f, Cube(b)),
        ["CopyToHost"] = (b, f) => b.CopyToHost(f, new byte[64]),
        ["GuidanceStep"] = (b, f) => b.Diffusion().GuidanceStep(Cube(b), Cube(b), Cube(b), Cube(b), f, null, new Viper.Runtime.Guidance.GuidanceStep(7.5f, 0f, 0f, new Viper.Runtime.Guidance.SchedulerUpdate(1f, -0.1f, 0f))),
    };

    private static Tensor Cube(IBackend b) => b.Allocate(new Shape(1, 4, 4), DType.F32);

    private static Tensor Square(IBackend b) => b.Allocate(new Shape(4, 4), DType.F32);

    private static Tensor Row(IBackend b) => b.Allocate(new Shape(4), DType.F32);
}

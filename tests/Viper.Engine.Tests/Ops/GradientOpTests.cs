using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// The gradient ops against PyTorch autograd (tools/refs/make_op_fixtures.py::gradients: f32 within atol 1e-5 + rtol 1e-4,
/// f16/bf16 within twice the naive error) on every backend; their f64 finite-difference checks are
/// <see cref="GradientFiniteDifferenceTests"/>. Adam: ::adam, three steps of torch.optim.Adam/AdamW.
/// </summary>
public class GradientOpTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With), "embedding_backward_f32, embedding_backward_f16, embedding_backward_bf16", MemberType = typeof(TestBackends))]
    public void EmbeddingBackward(string backend, string fixture) =>
        CheckGradients(backend, fixture, (b, f) => new() { ["table"] = b.Training().EmbeddingBackward(f.Load(b, "dy"), f.Load(b, "ids"), f.Param("rows").GetInt32()) });

    [Theory]
    [MemberData(nameof(TestBackends.With), "layer_norm_backward_f32, layer_norm_backward_f16, layer_norm_backward_bf16", MemberType = typeof(TestBackends))]
    public void LayerNormBackward(string backend, string fixture) => CheckGradients(backend, fixture, (b, f) =>
    {
        LayerNormGradients g = b.Training().LayerNormBackward(f.Load(b, "x"), f.Load(b, "gamma"), f.Load(b, "dy"), f.Param("eps").GetSingle());
        return new() { ["x"] = g.Dx, ["gamma"] = g.DGamma, ["beta"] = g.DBeta };
    });

    [Theory]
    [MemberData(nameof(TestBackends.With),
        "attention_backward_causal_f32, attention_backward_clip_f32, attention_backward_gqa_cross_f32, attention_backward_gqa_causal_f32, attention_backward_f16, attention_backward_bf16",
        MemberType = typeof(TestBackends))]
    public void AttentionBackward(string backend, string fixture) => CheckGradients(backend, fixture, (b, f) =>
    {
        var options = new AttentionOptions(f.Param("query_heads").GetInt32(), f.Param("kv_heads").GetInt32(), f.Param("head_dim").GetInt32())
        {
            Causal = f.Param("causal").GetBoolean(),
        };
        AttentionGradients g = b.Training().AttentionBackward(f.Load(b, "q"), f.Load(b, "k"), f.Load(b, "v"), f.Load(b, "dy"), options);
        return new() { ["q"] = g.Dq, ["k"] = g.Dk, ["v"] = g.Dv };
    });

    [Theory]
    [MemberData(nameof(TestBackends.With),
        "activation_backward_silu_f32, activation_backward_gelu_f32, activation_backward_gelu_tanh_f32, activation_backward_quick_gelu_f32, activation_backward_gelu_f16, activation_backward_gelu_bf16, activation_backward_quick_gelu_f16, activation_backward_quick_gelu_bf16",
        MemberType = typeof(TestBackends))]
    public void ActivationBackward(string backend, string fixture) => CheckGradients(backend, fixture, (b, f) =>
    {
        Activation activation = f.Param("activation").GetString() switch
        {
            "silu" => Activation.Silu,
            "gelu" => Activation.Gelu,
            "gelu_tanh" => Activation.GeluTanh,
            _ => Activation.QuickGelu,
        };
        return new() { ["x"] = b.Training().ActivationBackward(f.Load(b, "x"), f.Load(b, "dy"), activation) };
    });

    [Theory]
    [MemberData(nameof(TestBackends.With), "l2_normalize_backward_f32", MemberType = typeof(TestBackends))]
    public void L2NormalizeBackward(string backend, string fixture) =>
        CheckGradients(backend, fixture, (b, f) => new() { ["x"] = b.Training().L2NormalizeBackward(f.Load(b, "x"), f.Load(b, "dy"), f.Param("eps").GetSingle()) });

    /// <summary>
    /// Three steps against torch.optim on its CPU (steps of lr·1, lr·1e-3 and lr·10-sized gradients, entries with zero gradient,
    /// Adam's L2 decay and AdamW's decoupled decay). Tolerance: 1 f32 ulp of the parameter per step (a contracted FMA or
    /// division by a reciprocal in PyTorch's vector kernels is the only freedom left); the CPU backend and the kernels must
    /// agree with each other exactly.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestBackends.With), "adam_f32, adam_weight_decay_f32, adamw_f32", MemberType = typeof(TestBackends))]
    public void AdamMatchesTorchOptimStepByStep(string backend, string fixture)
    {
        using IBackend b = TestBackends.Create(backend);
        using var f = new OpFixture(fixture, "adam");
        float[] grads = f.Floats("grads"), expected = f.Floats("expected");
        int n = f.ShapeOf("param")[0];
        using Tensor master = f.Load(b, "param");
        using Tensor m = b.Allocate(master.Shape, DType.F32), v = b.Allocate(master.Shape, DType.F32);
        using Tensor param = b.Allocate(master.Shape, DType.F32);
        for (int step = 1; step <= 3; step++)
        {
            using Tensor g = b.FromFloats(grads.AsSpan((step - 1) * n, n), master.Shape);
            b.Training().AdamUpdate(master, m, v, g, param, Step(f, step));
            float[] after = master.ToFloats();
            Tolerance.Close(expected.AsSpan((step - 1) * n, n), after, 0, 1.2e-7f * step, $"{fixture} step {step} on {backend}");
            Assert.Equal(after, param.ToFloats());
        }

        Tolerance.Close(f.Floats("expected_m"), m.ToFloats(), 0, 1e-6f, "exp_avg");
        Tolerance.Close(f.Floats("expected_v"), v.ToFloats(), 0, 1e-6f, "exp_avg_sq");
        if (fixture == "adam_f32") // no decay: entries whose gradient is always zero do not move
        {
            Assert.Equal(f.Floats("param")[..5], master.ToFloats()[..5]);
        }
    }

    [Fact]
    public void AdamKernelsEqualTheCpuBackendBitForBitAndRoundTheModelsCopyOnce()
    {
        using var f = new OpFixture("adam_weight_decay_f32", "adam");
        int n = f.ShapeOf("param")[0];
        float[][] results = new float[2][];
        ushort[][] halves = new ushort[2][];
        string[] backends = ["cpu", "cuda-emulated"];
        for (int i = 0; i < 2; i++)
        {
            using IBackend b = TestBackends.Create(backends[i]);
            using Tensor master = f.Load(b, "param");
            using Tensor m = b.Allocate(master.Shape, DType.F32), v = b.Allocate(master.Shape, DType.F32);
            using Tensor half = b.Allocate(master.Shape, DType.F16);
            for (int step = 1; step <= 3; step++)
            {
                using Tensor g = b.FromFloats(f.Floats("grads").AsSpan((step - 1) * n, n), master.Shape, DType.F16);
                b.Training().AdamUpdate(master, m, v, g, half, Step(f, step));
            }

            results[i] = master.ToFloats();
            halves[i] = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(half.ToBytes()).ToArray();
            Assert.Equal(HostTensors.EncodeFloats(results[i], DType.F16), half.ToBytes());
        }

        Assert.Equal(results[0], results[1]);
        Assert.Equal(halves[0], halves[1]);
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void BadArgumentsAreRefusedBeforeAnyWork(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor x = b.Allocate(new Shape(2, 8), DType.F32), gamma = b.Allocate(new Shape(8), DType.F32), wrong = b.Allocate(new Shape(2, 7), DType.F32);
        Assert.Contains("dy", Assert.Throws<ArgumentException>(() => b.Training().LayerNormBackward(x, gamma, wrong, 1e-5f)).Message);
        Assert.Contains("dy", Assert.Throws<ArgumentException>(() => b.Training().ActivationBackward(x, wrong, Activation.Gelu)).Message);
        Assert.Contains("rows > 0", Assert.Throws<ArgumentException>(() => b.Training().EmbeddingBackward(x, b.FromInts([0, 1], new Shape(2)), 0)).Message);
        Assert.Contains("outside", Assert.Throws<TensorValueException>(() => b.Training().EmbeddingBackward(x, b.FromInts([0, 5], new Shape(2)), 3).ToFloats()).Message);
        var causal = new AttentionOptions(2, 2, 4) { Causal = true, KeyMask = b.FromInts([1, 1], new Shape(1, 2)) };
        using Tensor q = b.Allocate(new Shape(1, 2, 8), DType.F32);
        Assert.Throws<NotSupportedException>(() => b.Training().AttentionBackward(q, q, q, q, causal));
        using Tensor half = b.Allocate(new Shape(2, 8), DType.F16);
        Assert.Contains("master must be f32", Assert.Throws<ArgumentException>(() => b.Training().AdamUpdate(half, x, x, x, null, new AdamStep(1e-3, 1))).Message);
        Assert.Contains("dtypes differ", Assert.Throws<ArgumentException>(() => b.Training().AdamUpdate(x, x, x, x, half, new AdamStep(1e-3, 1))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Training().AdamUpdate(x, x, x, x, null, new AdamStep(1e-3, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Training().AdamUpdate(x, x, x, x, null, new AdamStep(1e-3, 1, Beta1: 1)));
    }

    private static AdamStep Step(OpFixture f, int step) => new(f.Param("lr").GetDouble(), step, f.Param("beta1").GetDouble(), f.Param("beta2").GetDouble(),
        f.Param("eps").GetDouble(), f.Param("weight_decay").GetDouble(), Decoupled: f.Param("optimizer").GetString() == "AdamW");

    /// <summary>Runs a gradient op and checks each output against the fixture's expected_&lt;name&gt; (and naive_&lt;name&gt;).</summary>
    private static void CheckGradients(string backendName, string fixtureName, Func<IBackend, OpFixture, Dictionary<string, Tensor>> op)
    {
        using IBackend backend = TestBackends.Create(backendName);
        using var fixture = new OpFixture(fixtureName, "gradients");
        Dictionary<string, Tensor> outputs = op(backend, fixture);
        try
        {
            foreach ((string name, Tensor result) in outputs)
            {
                Assert.Equal(fixture.ShapeOf("expected_" + name), result.Shape);
                if (fixture.Has("naive_" + name))
                {
                    Tolerance.WithinTwiceNaive(fixture, result, "expected_" + name, "naive_" + name);
                }
                else
                {
                    Tolerance.CloseF32(fixture.Floats("expected_" + name), result.ToFloats(), $"{fixtureName} d{name} on {backendName}");
                }
            }
        }
        finally
        {
            foreach (Tensor t in outputs.Values)
            {
                t.Dispose();
            }
        }
    }
}

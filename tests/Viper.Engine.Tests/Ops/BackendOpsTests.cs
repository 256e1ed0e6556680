using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Guidance;
using Viper.Runtime.Training;
using Xunit.Abstractions;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// ggml's test-backend-ops over the layered interface: every (op, dtype) pair of every op group — core, decoding,
/// diffusion, training — on random odd shapes, each backend against the CPU backend on the same inputs. A pair a backend
/// does not support must be refused by the shared validation, with the CPU's message: the supported pairs are the same
/// everywhere, and the table of them is printed.
/// </summary>
public sealed class BackendOpsTests(ITestOutputHelper output)
{
    private static readonly DType[] Floats = [DType.F32, DType.F16, DType.BF16];

    [Theory]
    [MemberData(nameof(TestBackends.GpuNames), MemberType = typeof(TestBackends))]
    public void EveryOpAndDtypeAgreesWithTheCpuOrIsRefusedAlike(string backend)
    {
        using IBackend cpu = TestBackends.Create("cpu");
        using IBackend other = TestBackends.Create(backend);
        var table = new List<string>();
        foreach ((string op, Func<Inputs, Tensor[]> run) in Cases)
        {
            var supported = new List<string>();
            foreach (DType dtype in Floats)
            {
                for (int seed = 1; seed <= 2; seed++)
                {
                    (float[][]? expected, string? refusal) = Run(cpu, dtype, seed, run);
                    (float[][]? actual, string? otherRefusal) = Run(other, dtype, seed, run);
                    Assert.True(refusal == otherRefusal, $"{op} {dtype}: cpu {(refusal ?? "runs")}, {backend} {(otherRefusal ?? "runs")}");
                    if (expected is null)
                    {
                        continue;
                    }

                    for (int i = 0; i < expected.Length; i++)
                    {
                        Close(expected[i], actual![i], dtype, $"{op} {dtype} seed {seed} output {i}");
                    }

                    if (seed == 1)
                    {
                        supported.Add(dtype.ToString().ToLowerInvariant());
                    }
                }
            }

            table.Add($"{op,-22} {string.Join(" ", supported)}");
        }

        output.WriteLine($"(op, dtype) pairs supported by cpu and {backend}:\n{string.Join('\n', table)}");
        Assert.Equal(Cases.Length, table.Count);
        Assert.Equal(OpSurface.Methods.Select(m => m.Name).Where(n => !NotOps.Contains(n)).Distinct().Order(), Cases.Select(c => c.Op.Split(' ')[0]).Distinct().Order());
    }

    // Members that are not numeric ops (their bytes are compared by every case's upload and download).
    private static readonly HashSet<string> NotOps = ["get_Name", "Allocate", "FromHost", "CopyToHost", "CopyInto"];

    private static (float[][]? Outputs, string? Refusal) Run(IBackend b, DType dtype, int seed, Func<Inputs, Tensor[]> run)
    {
        var inputs = new Inputs(b, dtype, new Random(seed));
        try
        {
            Tensor[] outputs = run(inputs);
            try
            {
                return ([.. outputs.Select(o => o.DType.IsFloat() ? o.ToFloats() : [.. o.ToInts().Select(v => (float)v)])], null);
            }
            finally
            {
                Array.ForEach(outputs, o => o.Dispose());
            }
        }
        catch (ArgumentException e)
        {
            return (null, e.Message);
        }
        finally
        {
            inputs.Dispose();
        }
    }

    // Each backend's own rounding of the same f32 math: f32 within 1e-4 of the output's scale, f16/bf16 within a few units
    // in the last place of it (a kernel and the CPU may round an intermediate on either side).
    private static void Close(float[] expected, float[] actual, DType dtype, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1e-3f, expected.Where(float.IsFinite).Select(MathF.Abs).DefaultIfEmpty(0).Max());
        float atol = dtype == DType.F32 ? 1e-4f : dtype == DType.F16 ? 4e-3f : 3e-2f;
        Tolerance.Close(expected, actual, atol * scale, dtype == DType.F32 ? 1e-4f : 4 * atol, what);
    }

    private static readonly (string Op, Func<Inputs, Tensor[]> Run)[] Cases =
    [
        ("Linear", i => { int k = i.Dim(1, 70), n = i.Dim(1, 40); return [i.B.Linear(i.F(i.Dim(1, 9), k), i.F(n, k), i.F(n))]; }),
        ("MatMul", i => { (int m, int k, int n) = (i.Dim(1, 20), i.Dim(1, 40), i.Dim(1, 20)); return [i.B.MatMul(i.F(2, k, m), i.F(2, n, k), transposeB: true, alpha: 0.5f, transposeA: true)]; }),
        ("Conv2d", i => { int c = i.Dim(1, 6); return [i.B.Conv2d(i.F(1, i.Dim(3, 9), i.Dim(3, 9), c), i.F(i.Dim(1, 7), 3, 3, c), null, new Conv2dOptions(i.Dim(1, 2), Padding2d.Same(1)))]; }),
        ("LayerNorm", i => { int c = i.Dim(2, 90); return [i.B.LayerNorm(i.F(i.Dim(1, 5), c), i.F(c), i.F(c), 1e-5f)]; }),
        ("RmsNorm", i => { int c = i.Dim(2, 90); return [i.B.RmsNorm(i.F(i.Dim(1, 5), c), i.F(c), 1e-6f)]; }),
        ("Attention", i => { (int tq, int tk, int d) = (i.Dim(1, 7), i.Dim(1, 12), 8); return [i.B.Attention(i.F(1, tq, 4 * d), i.F(1, tk, 2 * d), i.F(1, tk, 2 * d), new AttentionOptions(4, 2, d))]; }),
        ("Activate", i => [i.B.Activate(i.F(i.Dim(1, 300)), Activation.GeluTanh)]),
        ("Geglu", i => [i.B.Geglu(i.F(i.Dim(1, 4), 2 * i.Dim(1, 40)))]),
        ("Swiglu", i => { int n = i.Dim(1, 99); return [i.B.Swiglu(i.F(n), i.F(n))]; }),
        ("Add", i => { int c = i.Dim(1, 30); return [i.B.Add(i.F(i.Dim(1, 5), 3, c), i.F(3, 1))]; }),
        ("Mul", i => { int c = i.Dim(1, 30); return [i.B.Mul(i.F(i.Dim(1, 5), c), i.F(c))]; }),
        ("Scale", i => [i.B.Scale(i.F(i.Dim(1, 200)), 0.18215f)]),
        ("Clamp", i => [i.B.Clamp(i.F(i.Dim(1, 200)), -0.5f, 0.75f)]),
        ("Concat", i => { int r = i.Dim(1, 4); return [i.B.Concat([i.F(r, i.Dim(1, 9)), i.F(r, i.Dim(1, 9))], 1)]; }),
        ("Split", i => i.B.Split(i.F(i.Dim(1, 4), 11), 1, [5, 6])),
        ("Narrow", i => [i.B.Narrow(i.F(i.Dim(1, 4), 13, 3), 1, 4, 7)]),
        ("UpsampleNearest2x", i => [i.B.UpsampleNearest2x(i.F(1, i.Dim(1, 5), i.Dim(1, 5), 3))]),
        ("Embedding", i => { int v = i.Dim(2, 30); return [i.B.Embedding(i.F(v, 7), i.Ids(i.Dim(1, 9), v))]; }),
        ("Cast", i => [i.B.Cast(i.F(i.Dim(1, 100)), DType.F32)]),
        ("Mean", i => [i.B.Mean(i.F(i.Dim(1, 5), i.Dim(1, 80)))]),
        ("SumLeading", i => [i.B.SumLeading(i.F(2, i.Dim(1, 5), i.Dim(1, 40)), 2)]),
        ("L2Normalize", i => [i.B.L2Normalize(i.F(i.Dim(1, 5), i.Dim(1, 80)))]),
        ("KvCacheWrite", i =>
        {
            Tensor cache = i.F(2, 9, 6);
            i.B.Decoding().KvCacheWrite(cache, i.F(2, 3, 6), i.Ints([1, 5]));
            return [i.B.Cast(cache, DType.F32)];
        }),
        ("Rotary", i => { int t = i.Dim(1, 6); return [i.B.Decoding().Rotary(i.F(1, t, 16), i.Positions(t), 8, 10000f)]; }),
        ("RepetitionPenalty", i => [i.B.Decoding().RepetitionPenalty(i.F(2, 37), i.Ints([1, 30, 30, 2]).Reshape(2, 2), 1.3f)]),
        ("Argmax", i => [i.B.Decoding().Argmax(i.F(i.Dim(1, 4), i.Dim(2, 300)))]),
        ("TopGap", i => [i.B.Decoding().TopGap(i.F(i.Dim(1, 4), i.Dim(2, 300)))]),
        ("GroupNorm", i => { int c = 4 * i.Dim(1, 5); return [i.B.Diffusion().GroupNorm(i.F(2, i.Dim(1, 4), 3, c), 4, i.F(c), i.F(c), 1e-5f, silu: true, add: i.F(2, c))]; }),
        ("TimestepEmbedding", i => [i.B.Diffusion().TimestepEmbedding(i.F32(i.Dim(1, 5)), new TimestepEmbeddingOptions(2 * i.Dim(1, 20), true, 0f))]),
        ("GuidanceStep", i =>
        {
            int n = i.Dim(1, 100);
            Tensor latents = i.F32(n);
            i.B.Diffusion().GuidanceStep(i.F(n), i.F(n), i.F(n), i.F(n), latents, i.F32(n), new GuidanceStep(7.5f, 0.6f, 0.4f, new SchedulerUpdate(0.9f, -0.1f, 0.05f)));
            return [latents];
        }),
        ("EmbeddingBackward", i => { (int v, int t) = (i.Dim(2, 12), i.Dim(1, 9)); return [i.B.Training().EmbeddingBackward(i.F(1, t, 5), i.Ids(t, v).Reshape(1, t), v)]; }),
        ("LayerNormBackward", i =>
        {
            int c = i.Dim(2, 40), r = i.Dim(1, 5);
            LayerNormGradients g = i.B.Training().LayerNormBackward(i.F(r, c), i.F(c), i.F(r, c), 1e-5f);
            return [g.Dx, g.DGamma, g.DBeta];
        }),
        ("AttentionBackward", i =>
        {
            int t = i.Dim(1, 6);
            AttentionGradients g = i.B.Training().AttentionBackward(i.F(1, t, 16), i.F(1, t, 16), i.F(1, t, 16), i.F(1, t, 16), new AttentionOptions(2, 2, 8) { Causal = true });
            return [g.Dq, g.Dk, g.Dv];
        }),
        ("ActivationBackward", i => { int n = i.Dim(1, 200); return [i.B.Training().ActivationBackward(i.F(n), i.F(n), Activation.QuickGelu)]; }),
        ("L2NormalizeBackward", i => { int c = i.Dim(1, 60); return [i.B.Training().L2NormalizeBackward(i.F(2, c), i.F(2, c))]; }),
        ("AdamUpdate", i =>
        {
            int n = i.Dim(1, 100);
            Tensor master = i.F32(n), m = i.F32(n), v = i.B.Scale(i.F32(n), 0f), param = i.F(n);
            i.B.Training().AdamUpdate(master, m, v, i.F(n), param, new AdamStep(1e-3, 3, WeightDecay: 0.01, Decoupled: true));
            return [master, m, v, param];
        }),
    ];

    /// <summary>One case's inputs on one backend: random values in the case's dtype, from a seed both backends share.</summary>
    private sealed class Inputs(IBackend b, DType dtype, Random random) : IDisposable
    {
        private readonly List<Tensor> _made = [];

        public IBackend B => b;

        public int Dim(int min, int max) => random.Next(min, max + 1);

        public Tensor F(params int[] shape) => Keep(b.FromFloats(Values(shape), new Shape(shape), dtype));

        public Tensor F32(params int[] shape) => Keep(b.FromFloats(Values(shape), new Shape(shape)));

        public Tensor Ints(int[] values) => Keep(b.FromInts(values, new Shape(values.Length)));

        public Tensor Ids(int count, int below) => Ints([.. Enumerable.Range(0, count).Select(_ => random.Next(below))]);

        public Tensor Positions(int count) => Ints([.. Enumerable.Range(random.Next(0, 50), count)]);

        public void Dispose() => _made.ForEach(t => t.Dispose());

        private float[] Values(int[] shape) => [.. Enumerable.Range(0, shape.Aggregate(1, (p, d) => p * d)).Select(_ => (float)((random.NextDouble() * 2) - 1))];

        private Tensor Keep(Tensor t)
        {
            _made.Add(t);
            return t;
        }
    }
}

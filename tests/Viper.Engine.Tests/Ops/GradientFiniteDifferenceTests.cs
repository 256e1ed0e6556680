using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Each gradient op of the CPU backend against central finite differences of an f64 forward written here (independent of
/// PyTorch and of the backend): for L = Σ forward(x)·dy, dL/dx_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h with h = 1e-5,
/// whose truncation error is O(h²) ≈ 1e-10 and rounding error ≈ 1e-16·|L| / h ≈ 1e-10; the f32 analytic gradient must be
/// within 2e-5 + 1e-3·|fd| (its own f32 rounding).
/// </summary>
public class GradientFiniteDifferenceTests
{
    private const double H = 1e-5;

    [Fact]
    public void LayerNorm()
    {
        const int rows = 3, c = 10;
        double[] x = Random(rows * c, 1, 2), gamma = Random(c, 2), beta = Random(c, 3), dy = Random(rows * c, 4);
        double Loss(double[] xs, double[] g, double[] bt)
        {
            double total = 0;
            for (int r = 0; r < rows; r++)
            {
                double mean = 0, var = 0;
                for (int j = 0; j < c; j++) mean += xs[(r * c) + j] / c;
                for (int j = 0; j < c; j++) var += (xs[(r * c) + j] - mean) * (xs[(r * c) + j] - mean) / c;
                for (int j = 0; j < c; j++) total += (((xs[(r * c) + j] - mean) / Math.Sqrt(var + 1e-5) * g[j]) + bt[j]) * dy[(r * c) + j];
            }

            return total;
        }

        using var b = new CpuBackend(1);
        using LayerNormGradients grads = b.Training().LayerNormBackward(T(b, x, rows, c), T(b, gamma, c), T(b, dy, rows, c), 1e-5f);
        Check(grads.Dx, x, v => Loss(v, gamma, beta), "dx");
        Check(grads.DGamma, gamma, v => Loss(x, v, beta), "dgamma");
        Check(grads.DBeta, beta, v => Loss(x, gamma, v), "dbeta");
    }

    [Theory]
    [InlineData(true, 2, 2)]
    [InlineData(false, 4, 2)]
    public void Attention(bool causal, int hq, int hkv)
    {
        const int batch = 2, tq = 5, d = 3;
        int tk = causal ? 5 : 7;
        double[] q = Random(batch * tq * hq * d, 5), k = Random(batch * tk * hkv * d, 6), v = Random(batch * tk * hkv * d, 7), dy = Random(batch * tq * hq * d, 8);
        double scale = 1 / Math.Sqrt(d);
        double Loss(double[] qs, double[] ks, double[] vs)
        {
            double total = 0;
            for (int bi = 0; bi < batch; bi++)
            for (int h = 0; h < hq; h++)
            for (int t = 0; t < tq; t++)
            {
                int kvh = h / (hq / hkv), limit = causal ? t + tk - tq + 1 : tk;
                double[] s = new double[limit];
                for (int j = 0; j < limit; j++)
                for (int e = 0; e < d; e++)
                    s[j] += qs[(((bi * tq) + t) * hq * d) + (h * d) + e] * ks[(((bi * tk) + j) * hkv * d) + (kvh * d) + e] * scale;
                double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                for (int j = 0; j < limit; j++)
                for (int e = 0; e < d; e++)
                    total += Math.Exp(s[j] - max) / sum * vs[(((bi * tk) + j) * hkv * d) + (kvh * d) + e] * dy[(((bi * tq) + t) * hq * d) + (h * d) + e];
            }

            return total;
        }

        using var b = new CpuBackend(1);
        var options = new AttentionOptions(hq, hkv, d) { Causal = causal };
        using AttentionGradients g = b.Training().AttentionBackward(T(b, q, batch, tq, hq * d), T(b, k, batch, tk, hkv * d), T(b, v, batch, tk, hkv * d),
            T(b, dy, batch, tq, hq * d), options);
        Check(g.Dq, q, z => Loss(z, k, v), "dq");
        Check(g.Dk, k, z => Loss(q, z, v), "dk");
        Check(g.Dv, v, z => Loss(q, k, z), "dv");
    }

    [Theory]
    [InlineData(Activation.Silu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    [InlineData(Activation.QuickGelu)]
    public void Activations(Activation activation)
    {
        Func<double, double> f = activation switch
        {
            Activation.Silu => z => z / (1 + Math.Exp(-z)),
            Activation.Gelu => z => 0.5 * z * (1 + SpecialFunctions.Erf(z / Math.Sqrt(2))),
            Activation.GeluTanh => z => 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + (0.044715 * z * z * z)))),
            _ => z => z / (1 + Math.Exp(-1.702 * z)),
        };
        double[] x = Random(40, 9, 3), dy = Random(40, 10);
        using var b = new CpuBackend(1);
        using Tensor dx = b.Training().ActivationBackward(T(b, x, 40), T(b, dy, 40), activation);
        Check(dx, x, v => v.Select((z, i) => f(z) * dy[i]).Sum(), activation.ToString());
    }

    [Fact]
    public void L2Normalize()
    {
        double[] x = Random(2 * 6, 11), dy = Random(2 * 6, 12);
        double Loss(double[] v)
        {
            double total = 0;
            for (int r = 0; r < 2; r++)
            {
                double norm = Math.Sqrt(Enumerable.Range(0, 6).Sum(j => v[(r * 6) + j] * v[(r * 6) + j]));
                for (int j = 0; j < 6; j++) total += v[(r * 6) + j] / norm * dy[(r * 6) + j];
            }

            return total;
        }

        using var b = new CpuBackend(1);
        using Tensor dx = b.Training().L2NormalizeBackward(T(b, x, 2, 6), T(b, dy, 2, 6));
        Check(dx, x, Loss, "dx");
    }

    [Fact]
    public void Embedding()
    {
        int[] ids = [2, 0, 2, 4, 2];
        double[] table = Random(5 * 3, 13), dy = Random(5 * 3, 14);
        double Loss(double[] t) => Enumerable.Range(0, ids.Length * 3).Sum(i => t[(ids[i / 3] * 3) + (i % 3)] * dy[i]);
        using var b = new CpuBackend(1);
        using Tensor dt = b.Training().EmbeddingBackward(T(b, dy, 5, 3), b.FromInts(ids, new Shape(5)), 5);
        Check(dt, table, Loss, "dtable");
    }

    /// <summary>nn.Linear's backward as the layer composes it (MatMul with aᵀ for dW, MatMul for dX, SumLeading for db).</summary>
    [Fact]
    public void Linear()
    {
        const int rows = 4, inputs = 5, outputs = 3;
        using var b = new CpuBackend(1);
        var source = new Viper.Models.Loading.RandomWeights(b, DType.F32, seed: 3);
        using var linear = new Viper.Models.Layers.Linear(source.Root["proj"], inputs, outputs);
        double[] w = source.Parameters["proj.weight"].ToFloats().Select(v => (double)v).ToArray();
        double[] bias = source.Parameters["proj.bias"].ToFloats().Select(v => (double)v).ToArray();
        double[] x = Random(rows * inputs, 15), dy = Random(rows * outputs, 16);
        double Loss(double[] xs, double[] ws, double[] bs)
        {
            double total = 0;
            for (int r = 0; r < rows; r++)
            for (int o = 0; o < outputs; o++)
                total += (bs[o] + Enumerable.Range(0, inputs).Sum(i => xs[(r * inputs) + i] * ws[(o * inputs) + i])) * dy[(r * outputs) + o];
            return total;
        }

        using var grads = new Viper.Models.Training.Gradients(_ => true);
        using Tensor dx = linear.Backward(b, T(b, x, 2, 2, inputs), T(b, dy, 2, 2, outputs), grads)!;
        Check(dx, x, v => Loss(v, w, bias), "dx");
        Check(grads["proj.weight"], w, v => Loss(x, v, bias), "dW");
        Check(grads["proj.bias"], bias, v => Loss(x, w, v), "db");
    }

    /// <summary>Random values rounded to f32, so the f64 forward and the f32 backend see the same inputs.</summary>
    private static double[] Random(int n, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (double)(float)(((rng.NextDouble() * 2) - 1) * scale)).ToArray();
    }

    private static Tensor T(IBackend b, double[] values, params int[] shape) => b.FromFloats(values.Select(v => (float)v).ToArray(), new Shape(shape));

    private static void Check(Tensor analytic, double[] at, Func<double[], double> loss, string name)
    {
        float[] actual = analytic.ToFloats();
        Assert.Equal(at.Length, actual.Length);
        for (int i = 0; i < at.Length; i++)
        {
            double[] plus = (double[])at.Clone(), minus = (double[])at.Clone();
            plus[i] += H;
            minus[i] -= H;
            double fd = (loss(plus) - loss(minus)) / (2 * H);
            Assert.True(Math.Abs(actual[i] - fd) <= 2e-5 + (1e-3 * Math.Abs(fd)), $"{name}[{i}]: analytic {actual[i]}, finite difference {fd}");
        }
    }
}

using Viper.Backends.Cpu;
using Viper.Runtime;

namespace Viper.Cli.Diagnostics;

/// <summary>One self-check outcome: the largest error seen and the bound it had to stay under.</summary>
public sealed record SelfCheckResult(string Op, string Shape, double MaxError, double Bound)
{
    public bool Passed => MaxError <= Bound;
}

public readonly record struct SelfCheckProgress(int Done, int Total, string Op);

/// <summary>
/// Runs each backend op on random inputs and compares it with the scalar references (GEMM, convolution,
/// attention) or with an invariant of the op (normalized statistics, rows summing to one, exact round trips).
/// A quick health check of a machine and backend; the PyTorch fixtures in tests/ are the full contract.
/// </summary>
public sealed class OpSelfCheck(IBackend backend, int seed = 0)
{
    private readonly Random _rng = new(seed);

    public IReadOnlyList<SelfCheckResult> Run(IProgress<SelfCheckProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var checks = new (string Name, Func<SelfCheckResult> Check)[]
        {
            ("linear", Linear),
            ("conv2d 3×3", () => Conv(3, 1, Padding2d.Same(1))),
            ("conv2d 3×3 stride 2 (0,1,0,1)", () => Conv(3, 2, new Padding2d(0, 1, 0, 1))),
            ("conv2d 1×1", () => Conv(1, 1, default)),
            ("attention causal GQA", Attention),
            ("group_norm", GroupNorm),
            ("layer_norm", LayerNorm),
            ("l2_normalize", L2Normalize),
            ("cast f32→f16→f32", CastRoundTrip),
        };
        var results = new List<SelfCheckResult>();
        for (int i = 0; i < checks.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new SelfCheckProgress(i, checks.Length, checks[i].Name));
            results.Add(checks[i].Check());
        }

        progress?.Report(new SelfCheckProgress(checks.Length, checks.Length, "done"));
        return results;
    }

    private SelfCheckResult Linear()
    {
        const int m = 77, n = 129, k = 96;
        float[] x = Random(m * k), w = Random(n * k), b = Random(n);
        using Tensor y = backend.Linear(Upload(x, m, k), Upload(w, n, k), Upload(b, n));
        return Compare("linear", $"({m}, {k})·({n}, {k})ᵀ", ScalarReference.Linear(x, w, b, m, n, k), y.ToFloats());
    }

    private SelfCheckResult Conv(int kernel, int stride, Padding2d pad)
    {
        const int batch = 1, h = 13, w = 11, cin = 8, cout = 12;
        float[] x = Random(batch * h * w * cin), wt = Random(cout * kernel * kernel * cin), b = Random(cout);
        using Tensor y = backend.Conv2d(Upload(x, batch, h, w, cin), Upload(wt, cout, kernel, kernel, cin), Upload(b, cout), new Conv2dOptions(stride, pad));
        float[] expected = ScalarReference.Conv2d(x, batch, h, w, cin, wt, cout, kernel, kernel, b, stride, pad.Top, pad.Bottom, pad.Left, pad.Right, out _, out _);
        return Compare($"conv2d {kernel}×{kernel}/{stride}", $"({batch}, {h}, {w}, {cin}) → {cout}", expected, y.ToFloats());
    }

    private SelfCheckResult Attention()
    {
        const int batch = 2, t = 37, hq = 4, hkv = 2, d = 40;
        float[] q = Random(batch * t * hq * d), k = Random(batch * t * hkv * d), v = Random(batch * t * hkv * d);
        int[] lengths = [t, t - 5];
        var options = new AttentionOptions(hq, hkv, d) { Causal = true, KeyLengths = backend.FromInts(lengths, new Shape(batch)) };
        using Tensor y = backend.Attention(Upload(q, batch, t, hq * d), Upload(k, batch, t, hkv * d), Upload(v, batch, t, hkv * d), options);
        float[] expected = ScalarReference.Attention(q, k, v, batch, t, t, hq, hkv, d, true, lengths, options.EffectiveScale);
        return Compare("attention", $"B{batch} T{t} Hq{hq} Hkv{hkv} D{d}", expected, y.ToFloats());
    }

    private SelfCheckResult GroupNorm()
    {
        const int n = 2, h = 6, w = 5, c = 32, groups = 8;
        float[] x = Random(n * h * w * c);
        using Tensor y = backend.Diffusion().GroupNorm(Upload(x, n, h, w, c), groups, Ones(c), Zeros(c), 1e-6f);
        float[] v = y.ToFloats();
        double worst = 0;
        for (int s = 0; s < n; s++)
        {
            for (int g = 0; g < groups; g++)
            {
                var members = Enumerable.Range(0, h * w).SelectMany(p => Enumerable.Range(g * (c / groups), c / groups).Select(j => (double)v[(((s * h * w) + p) * c) + j])).ToList();
                worst = Math.Max(worst, StatisticsError(members));
            }
        }

        return new SelfCheckResult("group_norm", $"({n}, {h}, {w}, {c}) / {groups}", worst, 1e-4);
    }

    private SelfCheckResult LayerNorm()
    {
        const int rows = 9, c = 768;
        float[] x = Random(rows * c);
        using Tensor y = backend.LayerNorm(Upload(x, rows, c), null, null, 1e-6f);
        float[] v = y.ToFloats();
        double worst = Enumerable.Range(0, rows).Max(r => StatisticsError(v.Skip(r * c).Take(c).Select(f => (double)f).ToList()));
        return new SelfCheckResult("layer_norm", $"({rows}, {c})", worst, 1e-4);
    }

    private SelfCheckResult L2Normalize()
    {
        const int rows = 16, c = 1000;
        float[] x = Random(rows * c).Select(f => f * 30).ToArray();
        using Tensor y = backend.L2Normalize(Upload(x, rows, c));
        float[] v = y.ToFloats();
        double worst = Enumerable.Range(0, rows).Max(r => Math.Abs(v.Skip(r * c).Take(c).Sum(f => (double)f * f) - 1));
        return new SelfCheckResult("l2_normalize", $"({rows}, {c}) rows of unit length", worst, 1e-5);
    }

    private SelfCheckResult CastRoundTrip()
    {
        float[] x = Random(4096);
        using Tensor half = backend.Cast(Upload(x, x.Length), DType.F16);
        using Tensor back = backend.Cast(half, DType.F32);
        float[] v = back.ToFloats();
        double worst = x.Select((f, i) => Math.Abs(f - v[i]) / Math.Max(Math.Abs(f), 6.1e-5)).Max();
        return new SelfCheckResult("cast", "4096 values, relative error ≤ 2⁻¹¹", worst, Math.Pow(2, -11));
    }

    private static double StatisticsError(List<double> values)
    {
        double mean = values.Average();
        double variance = values.Average(x => (x - mean) * (x - mean));
        return Math.Max(Math.Abs(mean), Math.Abs(variance - 1));
    }

    /// <summary>Reports the element that comes closest to (or furthest past) its f32 bound atol 1e-5 + rtol 1e-4·|ref|.</summary>
    private static SelfCheckResult Compare(string op, string shape, float[] expected, float[] actual)
    {
        int worst = 0;
        double worstRatio = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double ratio = Math.Abs(expected[i] - actual[i]) / Bound(expected[i]);
            if (!(ratio <= worstRatio))
            {
                worst = i;
                worstRatio = ratio;
            }
        }

        return new SelfCheckResult(op, shape, Math.Abs(expected[worst] - actual[worst]), Bound(expected[worst]));
    }

    private static double Bound(float reference) => 1e-5 + (1e-4 * Math.Abs(reference));

    private float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)((_rng.NextDouble() * 2) - 1)).ToArray();

    private Tensor Upload(float[] values, params int[] dims) => backend.FromFloats(values, new Shape(dims));

    private Tensor Ones(int n) => Upload(Enumerable.Repeat(1f, n).ToArray(), n);

    private Tensor Zeros(int n) => Upload(new float[n], n);
}

using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::conv2d (NHWC activations, (Cout, KH, KW, Cin) weights).</summary>
public class ConvTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With),
        "conv3x3_s1_f32, conv3x3_s2_vae_f32, conv3x3_s2_f32, conv1x1_f32, conv3x3_s1_f16, conv3x3_s1_bf16",
        MemberType = typeof(TestBackends))]
    public void Conv2d(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "conv2d", (b, f) =>
        {
            int[] p = f.Param("padding").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var options = new Conv2dOptions(f.Param("stride").GetInt32(), new Padding2d(p[0], p[1], p[2], p[3]));
            return b.Conv2d(f.Load(b, "x"), f.Load(b, "weight"), f.Load(b, "bias"), options);
        });

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void Conv2dMatchesScalarReferenceWithAsymmetricPadding(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var rng = new Random(11);
        float[] x = GemmTests.Random(rng, 2 * 13 * 7 * 5), w = GemmTests.Random(rng, 6 * 3 * 3 * 5), bias = GemmTests.Random(rng, 6);
        var options = new Conv2dOptions(2, new Padding2d(0, 2, 1, 0));
        float[] got = b.Conv2d(b.FromFloats(x, new Shape(2, 13, 7, 5)), b.FromFloats(w, new Shape(6, 3, 3, 5)),
            b.FromFloats(bias, new Shape(6)), options).ToFloats();
        float[] expected = ScalarReference.Conv2d(x, 2, 13, 7, 5, w, 6, 3, 3, bias, 2, 0, 2, 1, 0, out _, out _);
        Tolerance.CloseF32(expected, got, "conv2d vs scalar reference");
    }

    /// <summary>
    /// The CPU backend's Winograd F(2×2, 3×3) routine against the direct sum in f64, with odd sizes (partial tiles), a
    /// batch, a bias and a residual. Sums of 9·Cin products: the fixed f32 tolerance is below the rounding of a plain f32
    /// sum at points of cancellation, so the bound is the project's rule for re-associated sums — at most 2× the error of
    /// the naive f32 loop (the Winograd error was 0.4–1.0× of it).
    /// </summary>
    [Theory]
    [InlineData(2, 9, 11, 64, 80)]
    [InlineData(1, 1, 1, 16, 16)]
    [InlineData(1, 16, 17, 96, 40)]
    public unsafe void WinogradMatchesTheDirectSum(int batch, int h, int w, int cin, int cout)
    {
        var rng = new Random(h * 31 + cin);
        float[] x = GemmTests.Random(rng, batch * h * w * cin), wt = GemmTests.Random(rng, cout * 9 * cin), bias = GemmTests.Random(rng, cout);
        float[] residual = GemmTests.Random(rng, batch * h * w * cout);
        var got = new float[batch * h * w * cout];
        using (var cpu = new CpuBackend(2))
        {
            fixed (float* px = x, pw = wt, pb = bias, pr = residual, py = got)
            {
                cpu.WinogradConv(px, batch, h, w, cin, pw, cout, pb, pr, py);
            }
        }

        (float[] expected, float[] naive) = DirectSum(x, batch, h, w, cin, wt, cout, bias, residual);
        double error = Tolerance.MaxAbsError(expected, got), naiveError = Tolerance.MaxAbsError(expected, naive);
        Assert.True(error <= 2 * naiveError, $"3×3 conv {batch}×{h}×{w}×{cin}→{cout}: max |error| {error:E3}, naive f32 loop {naiveError:E3}");
    }

    /// <summary>A 3×3 "same" convolution with ≥ 256 channels on ≥ 64² pixels takes the Winograd path; one with fewer channels does not.</summary>
    [Theory]
    [InlineData(64, 64, 256, 256, true)]
    [InlineData(64, 64, 128, 256, false)]
    [InlineData(32, 32, 512, 512, false)]
    public unsafe void WideConvolutionsOnLargeImagesRunAsWinograd(int h, int w, int cin, int cout, bool winograd)
    {
        var rng = new Random(5);
        float[] x = GemmTests.Random(rng, h * w * cin), wt = GemmTests.Random(rng, cout * 9 * cin), bias = GemmTests.Random(rng, cout);
        using var cpu = new CpuBackend(2);
        float[] viaOp = cpu.Conv2d(cpu.FromFloats(x, new Shape(1, h, w, cin)), cpu.FromFloats(wt, new Shape(cout, 3, 3, cin)),
            cpu.FromFloats(bias, new Shape(cout)), new Conv2dOptions(1, Padding2d.Same(1))).ToFloats();
        var direct = new float[viaOp.Length];
        fixed (float* px = x, pw = wt, pb = bias, py = direct)
        {
            cpu.WinogradConv(px, 1, h, w, cin, pw, cout, pb, null, py);
        }

        Assert.Equal(winograd, viaOp.AsSpan().SequenceEqual(direct));
    }

    private static (float[] Expected, float[] Naive) DirectSum(float[] x, int batch, int h, int w, int cin, float[] wt, int cout, float[] bias, float[] residual)
    {
        var expected = new float[batch * h * w * cout];
        var naive = new float[expected.Length];
        for (int n = 0; n < batch; n++)
        {
            for (int oy = 0; oy < h; oy++)
            {
                for (int ox = 0; ox < w; ox++)
                {
                    for (int co = 0; co < cout; co++)
                    {
                        double sum = bias[co];
                        float naiveSum = bias[co];
                        for (int ky = 0; ky < 3; ky++)
                        {
                            for (int kx = 0; kx < 3; kx++)
                            {
                                int iy = oy + ky - 1, ix = ox + kx - 1;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                {
                                    continue;
                                }

                                for (int ci = 0; ci < cin; ci++)
                                {
                                    float a = x[(((n * h) + iy) * w + ix) * cin + ci], b = wt[(((co * 3) + ky) * 3 + kx) * cin + ci];
                                    sum += (double)a * b;
                                    naiveSum += a * b;
                                }
                            }
                        }

                        int at = (((n * h) + oy) * w + ox) * cout + co;
                        expected[at] = (float)(sum + residual[at]);
                        naive[at] = naiveSum + residual[at];
                    }
                }
            }
        }

        return (expected, naive);
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void Conv2dRejectsChannelMismatch(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.Conv2d(b.Allocate(new Shape(1, 4, 4, 3), DType.F32),
            b.Allocate(new Shape(8, 3, 3, 4), DType.F32), null, new Conv2dOptions(1, Padding2d.Same(1))));
        Assert.Contains("input channels", e.Message);
    }
}

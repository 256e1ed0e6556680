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
                cpu.WinogradConv(SameConv3x3(batch, h, w, cin, cout), px, pw, pb, pr, py);
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
            cpu.WinogradConv(SameConv3x3(1, h, w, cin, cout), px, pw, pb, null, py);
        }

        Assert.Equal(winograd, viaOp.AsSpan().SequenceEqual(direct));
    }

    private static (float[] Expected, float[] Naive) DirectSum(float[] x, int batch, int h, int w, int cin, float[] wt, int cout, float[] bias, float[] residual) =>
        DirectSum(x, SameConv3x3(batch, h, w, cin, cout), wt, bias, residual);

    private static ConvGeometry SameConv3x3(int batch, int h, int w, int cin, int cout) =>
        new(batch, h, w, cin, cout, 3, 3, new Conv2dOptions(1, Padding2d.Same(1)));

    /// <summary>The convolution summed in f64 (rounded once) and by a naive f32 loop, bias first, residual added last.</summary>
    private static (float[] Expected, float[] Naive) DirectSum(float[] x, ConvGeometry g, float[] wt, float[]? bias, float[]? residual)
    {
        int ho = g.OutHeight, wo = g.OutWidth, cin = g.InChannels, cout = g.OutChannels, kh = g.KernelHeight, kw = g.KernelWidth;
        var expected = new float[g.Batch * ho * wo * cout];
        var naive = new float[expected.Length];
        for (int n = 0; n < g.Batch; n++)
        {
            for (int oy = 0; oy < ho; oy++)
            {
                for (int ox = 0; ox < wo; ox++)
                {
                    for (int co = 0; co < cout; co++)
                    {
                        double sum = bias?[co] ?? 0;
                        float naiveSum = bias?[co] ?? 0;
                        for (int ky = 0; ky < kh; ky++)
                        {
                            for (int kx = 0; kx < kw; kx++)
                            {
                                int iy = (oy * g.Options.Stride) + ky - g.Options.Padding.Top, ix = (ox * g.Options.Stride) + kx - g.Options.Padding.Left;
                                if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width)
                                {
                                    continue;
                                }

                                for (int ci = 0; ci < cin; ci++)
                                {
                                    float a = x[(((n * g.Height) + iy) * g.Width + ix) * cin + ci], b = wt[(((co * kh) + ky) * kw + kx) * cin + ci];
                                    sum += (double)a * b;
                                    naiveSum += a * b;
                                }
                            }
                        }

                        int at = (((n * ho) + oy) * wo + ox) * cout + co;
                        expected[at] = (float)(sum + (residual?[at] ?? 0));
                        naive[at] = naiveSum + (residual?[at] ?? 0);
                    }
                }
            }
        }

        return (expected, naive);
    }

    /// <summary>
    /// The direct routine against the f64 sum: output channels not a multiple of its 16 (3, 24), rows not a multiple of
    /// its 4 pixels, stride 2 with the VAE's asymmetric padding, 1×1, a batch, with and without bias and residual. Bound:
    /// at most 2× the naive f32 loop's error (as for Winograd above).
    /// </summary>
    [Theory]
    [InlineData(2, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, true, true)]
    [InlineData(1, 13, 7, 16, 24, 3, 2, 0, 1, 0, 1, true, false)]
    [InlineData(2, 6, 5, 64, 64, 3, 1, 1, 1, 1, 1, false, true)]
    [InlineData(1, 5, 7, 12, 32, 1, 1, 0, 0, 0, 0, true, true)]
    public unsafe void DirectConvMatchesTheDirectSum(int batch, int h, int w, int cin, int cout, int k, int stride,
        int top, int bottom, int left, int right, bool withBias, bool withResidual)
    {
        var g = new ConvGeometry(batch, h, w, cin, cout, k, k, new Conv2dOptions(stride, new Padding2d(top, bottom, left, right)));
        var rng = new Random((h * 7) + cin);
        float[] x = GemmTests.Random(rng, batch * h * w * cin), wt = GemmTests.Random(rng, cout * k * k * cin);
        float[]? bias = withBias ? GemmTests.Random(rng, cout) : null;
        float[]? residual = withResidual ? GemmTests.Random(rng, batch * g.OutHeight * g.OutWidth * cout) : null;
        var got = new float[batch * g.OutHeight * g.OutWidth * cout];
        using (var cpu = new CpuBackend(2))
        {
            fixed (float* px = x, pw = wt, pb = bias, pr = residual, py = got)
            {
                cpu.DirectConv(g, px, pw, pb, pr, py);
            }
        }

        (float[] expected, float[] naive) = DirectSum(x, g, wt, bias, residual);
        double error = Tolerance.MaxAbsError(expected, got), naiveError = Tolerance.MaxAbsError(expected, naive);
        Assert.True(error <= 2 * naiveError, $"{g}: max |error| {error:E3}, naive f32 loop {naiveError:E3}");
    }

    /// <summary>Convolutions with at most 9·64 inputs and 64 outputs per pixel take the direct routine; wider ones do not.</summary>
    [Theory]
    [InlineData(3, 64, 64, true)]
    [InlineData(3, 16, 3, true)]
    [InlineData(1, 512, 64, true)]
    [InlineData(3, 65, 64, false)]
    [InlineData(3, 32, 80, false)]
    public unsafe void NarrowConvolutionsRunDirectly(int k, int cin, int cout, bool direct)
    {
        var g = new ConvGeometry(1, 9, 10, cin, cout, k, k, new Conv2dOptions(1, Padding2d.Same(k / 2)));
        var rng = new Random(3);
        float[] x = GemmTests.Random(rng, 90 * cin), wt = GemmTests.Random(rng, cout * k * k * cin), bias = GemmTests.Random(rng, cout);
        using var cpu = new CpuBackend(2);
        float[] viaOp = cpu.Conv2d(cpu.FromFloats(x, new Shape(1, 9, 10, cin)), cpu.FromFloats(wt, new Shape(cout, k, k, cin)),
            cpu.FromFloats(bias, new Shape(cout)), g.Options).ToFloats();
        var routine = new float[viaOp.Length];
        fixed (float* px = x, pw = wt, pb = bias, py = routine)
        {
            cpu.DirectConv(g, px, pw, pb, null, py);
        }

        Assert.Equal(direct, CpuBackend.UsesDirectConv(g));
        Assert.Equal(direct, viaOp.AsSpan().SequenceEqual(routine));
    }

    /// <summary>
    /// Each CPU convolution routine called directly on PyTorch's conv fixtures (routing picks one per shape; this runs
    /// all that accept the shape — im2col and direct always, Winograd on the 3×3 stride-1 "same" one).
    /// </summary>
    [Theory]
    [InlineData("conv3x3_s1_f32")]
    [InlineData("conv3x3_s2_vae_f32")]
    [InlineData("conv3x3_s2_f32")]
    [InlineData("conv1x1_f32")]
    public unsafe void EveryCpuConvolutionRoutineMatchesPyTorch(string fixtureName)
    {
        using var cpu = new CpuBackend(2);
        using var f = new OpFixture(fixtureName, "conv2d");
        using Tensor x = f.Load(cpu, "x"), w = f.Load(cpu, "weight"), bias = f.Load(cpu, "bias");
        int[] p = f.Param("padding").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var g = new ConvGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[0], w.Shape[1], w.Shape[2],
            new Conv2dOptions(f.Param("stride").GetInt32(), new Padding2d(p[0], p[1], p[2], p[3])));
        float[] expected = f.Floats("expected");
        float* px = (float*)CpuBackend.Ptr(x), pw = (float*)CpuBackend.Ptr(w), pb = (float*)CpuBackend.Ptr(bias);
        var got = new float[expected.Length];
        fixed (float* py = got)
        {
            cpu.Im2ColConv(g, px, pw, pb, null, py);
            Tolerance.CloseF32(expected, got, $"{fixtureName} by im2col");
            cpu.DirectConv(g, px, pw, pb, null, py);
            Tolerance.CloseF32(expected, got, $"{fixtureName} by the direct routine");
            if (g.KernelHeight == 3 && g.Options == new Conv2dOptions(1, Padding2d.Same(1)))
            {
                cpu.WinogradConv(g, px, pw, pb, null, py);
                Tolerance.CloseF32(expected, got, $"{fixtureName} by Winograd");
            }
        }
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

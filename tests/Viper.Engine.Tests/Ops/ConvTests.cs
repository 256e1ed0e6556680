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

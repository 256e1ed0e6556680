using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::group_norm, ::group_norm_add, ::layer_norm, ::rms_norm.</summary>
public class NormTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With),
        "group_norm_f32, group_norm_silu_f32, group_norm_btc_f32, group_norm_silu_f16, group_norm_silu_bf16",
        MemberType = typeof(TestBackends))]
    public void GroupNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "group_norm", (b, f) =>
            b.GroupNorm(f.Load(b, "x"), f.Param("groups").GetInt32(), f.Load(b, "gamma"), f.Load(b, "beta"),
                f.Param("eps").GetSingle(), f.Param("silu").GetBoolean()));

    [Theory]
    [MemberData(nameof(TestBackends.With),
        "group_norm_temb_silu_f32, group_norm_full_add_f32, group_norm_temb_silu_f16, group_norm_temb_silu_bf16",
        MemberType = typeof(TestBackends))]
    public void GroupNormOfSum(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "group_norm_add", (b, f) =>
            b.GroupNorm(f.Load(b, "x"), f.Param("groups").GetInt32(), f.Load(b, "gamma"), f.Load(b, "beta"),
                f.Param("eps").GetSingle(), f.Param("silu").GetBoolean(), f.Load(b, "add")));

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void GroupNormRejectsMisshapedAdd(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.GroupNorm(b.Allocate(new Shape(2, 2, 2, 32), DType.F32), 8,
            b.Allocate(new Shape(32), DType.F32), b.Allocate(new Shape(32), DType.F32), 1e-5f, add: b.Allocate(new Shape(1, 32), DType.F32)));
        Assert.Contains("add must be", e.Message);
    }

    [Theory]
    [MemberData(nameof(TestBackends.With), "layer_norm_f32, layer_norm_noaffine_f32, layer_norm_f16, layer_norm_bf16", MemberType = typeof(TestBackends))]
    public void LayerNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "layer_norm", (b, f) =>
            b.LayerNorm(f.Load(b, "x"), f.LoadOptional(b, "gamma"), f.LoadOptional(b, "beta"), f.Param("eps").GetSingle()));

    [Theory]
    [MemberData(nameof(TestBackends.With), "rms_norm_f32, rms_norm_f16, rms_norm_bf16", MemberType = typeof(TestBackends))]
    public void RmsNorm(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "rms_norm", (b, f) =>
            b.RmsNorm(f.Load(b, "x"), f.Load(b, "gamma"), f.Param("eps").GetSingle()));

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void GroupNormRejectsIndivisibleChannels(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        var e = Assert.Throws<ArgumentException>(() => b.GroupNorm(b.Allocate(new Shape(1, 2, 2, 30), DType.F32), 32,
            b.Allocate(new Shape(30), DType.F32), b.Allocate(new Shape(30), DType.F32), 1e-5f));
        Assert.Contains("not divisible", e.Message);
    }
}

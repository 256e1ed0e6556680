using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>Fixtures: tools/refs/make_op_fixtures.py::layout, ::narrow. Data movement is exact.</summary>
public class LayoutTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With), "concat_channels_f32, concat_axis1_f32", MemberType = typeof(TestBackends))]
    public void Concat(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "layout", (b, f) =>
        {
            var parts = Enumerable.Range(0, 3).Where(i => f.Has($"p{i}")).Select(i => f.Load(b, $"p{i}")).ToList();
            return b.Concat(parts, f.Param("axis").GetInt32());
        }, atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void Split(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var f = new OpFixture("split_channels_f32", "layout");
        int[] sizes = f.Param("sizes").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Tensor[] parts = b.Split(f.Load(b, "x"), f.Param("axis").GetInt32(), sizes);
        for (int i = 0; i < parts.Length; i++)
        {
            Assert.Equal(f.ShapeOf($"expected{i}"), parts[i].Shape);
            Assert.Equal(f.Floats($"expected{i}"), parts[i].ToFloats());
        }
    }

    [Theory]
    [MemberData(nameof(TestBackends.With), "narrow_axis0_f32, narrow_axis1_f32, narrow_last_f32, narrow_last_bf16", MemberType = typeof(TestBackends))]
    public void Narrow(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "narrow", (b, f) =>
            b.Narrow(f.Load(b, "x"), f.Param("axis").GetInt32(), f.Param("start").GetInt32(), f.Param("length").GetInt32()), atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void NarrowRejectsWindowsOutsideTheAxis(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor x = b.Allocate(new Shape(2, 5), DType.F32);
        Assert.Contains("[3, 6) outside axis 1 of size 5", Assert.Throws<ArgumentOutOfRangeException>(() => b.Narrow(x, 1, 3, 3)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Narrow(x, 2, 0, 1));
    }

    [Theory]
    [MemberData(nameof(TestBackends.With), "upsample_nearest2x_f32", MemberType = typeof(TestBackends))]
    public void UpsampleNearest2x(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "layout", (b, f) => b.UpsampleNearest2x(f.Load(b, "x")), atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void ViewsShareStorageWithoutCopying(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using Tensor t = b.FromFloats(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), new Shape(4, 6));
        Tensor rows = t.Slice(1, 2).Reshape(3, -1);
        Assert.Equal(new Shape(3, 4), rows.Shape);
        Assert.True(rows.IsView);
        Assert.Equal(Enumerable.Range(6, 12).Select(i => (float)i), rows.ToFloats());
        Assert.Throws<ArgumentException>(() => t.Reshape(5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(3, 2));
    }
}

using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Fixtures: tools/refs/make_op_fixtures.py::casts (bit-exact against PyTorch), ::reductions and ::logits.
/// NaN payloads are not compared: PyTorch's own bf16 NaN differs between its vectorised (0xFFFF) and
/// scalar (0x7FC0) paths, so "is NaN" is the contract there.
/// </summary>
public class CastAndReductionTests
{
    [Theory]
    [MemberData(nameof(TestBackends.With),
        "cast_f32_f16, cast_f32_bf16, cast_f16_f32, cast_bf16_f32, cast_f16_bf16, cast_bf16_f16, cast_f32_i32, cast_i64_f32",
        MemberType = typeof(TestBackends))]
    public void CastIsBitExact(string backend, string fixture)
    {
        using IBackend b = TestBackends.Create(backend);
        using var f = new OpFixture(fixture, "casts");
        using Tensor y = b.Cast(f.Load(b, "x"), f.DTypeOf("expected"));
        Assert.Equal(f.DTypeOf("expected"), y.DType);
        int size = y.DType.SizeInBytes();
        byte[] expected = f.Raw("expected"), actual = y.ToBytes();
        float[] expectedValues = f.Floats("expected"), actualValues = y.ToFloats();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expectedValues.Length; i++)
        {
            bool bothNaN = float.IsNaN(expectedValues[i]) && float.IsNaN(actualValues[i]);
            Assert.True(bothNaN || expected.AsSpan(i * size, size).SequenceEqual(actual.AsSpan(i * size, size)),
                $"{fixture}: element {i} is {actualValues[i]}, expected {expectedValues[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void Argmax(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var f = new OpFixture("argmax_f32", "reductions");
        Assert.Equal(f.Raw("expected"), b.Decoding().Argmax(f.Load(b, "x")).ToBytes());
    }

    /// <summary>Fixtures: make_op_fixtures.py::top_gap (torch.topk(2) differences; a tied top, huge negatives, 2-wide rows).</summary>
    [Theory]
    [MemberData(nameof(TestBackends.With), "top_gap_f32, top_gap_narrow_f32, top_gap_f16, top_gap_bf16", MemberType = typeof(TestBackends))]
    public void TopGap(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "top_gap", (b, f) => b.Decoding().TopGap(f.Load(b, "x")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "sum_leading_2_f32, sum_leading_1_f32, sum_leading_2_f16, sum_leading_2_bf16", MemberType = typeof(TestBackends))]
    public void SumLeading(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "sum_leading", (b, f) => b.SumLeading(f.Load(b, "x"), f.Param("axes").GetInt32()));

    [Theory]
    [MemberData(nameof(TestBackends.With), "mean_f32", MemberType = typeof(TestBackends))]
    public void Mean(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "reductions", (b, f) => b.Mean(f.Load(b, "x")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "l2_normalize_f32", MemberType = typeof(TestBackends))]
    public void L2Normalize(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "reductions", (b, f) => b.L2Normalize(f.Load(b, "x")));

    [Theory]
    [MemberData(nameof(TestBackends.With), "repetition_penalty_f32", MemberType = typeof(TestBackends))]
    public void RepetitionPenalty(string backend, string fixture) =>
        FixtureRunner.Check(backend, fixture, "logits", (b, f) => b.Decoding().RepetitionPenalty(f.Load(b, "logits"), f.Load(b, "ids"), f.Param("penalty").GetSingle()),
            atol: 0, rtol: 0);

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void RepetitionPenaltyRejectsBadIdsAndPenalties(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        Tensor logits = b.Allocate(new Shape(1, 10), DType.F32);
        Assert.Contains("id 10 outside", Assert.Throws<TensorValueException>(() => b.Decoding().RepetitionPenalty(logits, b.FromInts([1, 10], new Shape(1, 2)), 1.2f).ToFloats()).Message);
        Assert.Contains("positive finite", Assert.Throws<ArgumentOutOfRangeException>(() => b.Decoding().RepetitionPenalty(logits, b.FromInts([1], new Shape(1, 1)), 0f)).Message);
    }
}

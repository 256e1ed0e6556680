using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// The numeric contract: f32 results within atol + rtol·|ref| elementwise; f16/bf16 results within
/// twice the error of a naive same-precision implementation against the f32 reference (flash-attention's rule).
/// </summary>
public static class Tolerance
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol, float rtol, string context)
    {
        Assert.True(expected.Length == actual.Length, $"{context}: {actual.Length} values, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a))
            {
                continue;
            }

            if (!(Math.Abs(a - e) <= atol + (rtol * Math.Abs(e))) && a != e)
            {
                Assert.Fail($"{context}: element {i} is {a}, expected {e} (|diff| {Math.Abs(a - e):g3} > {atol} + {rtol}·|ref|)");
            }
        }
    }

    /// <summary>Tolerances for f32 results, stated once: accumulation-order differences from PyTorch.</summary>
    public static void CloseF32(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string context) =>
        Close(expected, actual, atol: 1e-5f, rtol: 1e-4f, context);

    public static double MaxAbsError(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)actual[i] - expected[i]));
        }

        return max;
    }

    /// <summary>
    /// A low-precision result against the fixture's f32 "expected" and same-dtype "naive" result: our max error may be
    /// at most 2× the naive one (plus a floor of half an ulp at the data's scale, so a naive result that happens to be exact
    /// does not demand exactness).
    /// </summary>
    public static void WithinTwiceNaive(OpFixture fixture, Tensor result, string expectedName = "expected", string naiveName = "naive")
    {
        float[] expected = fixture.Floats(expectedName);
        float[] naive = fixture.Floats(naiveName);
        float[] ours = result.ToFloats();
        Assert.Equal(fixture.DTypeOf(naiveName), result.DType);
        double naiveError = MaxAbsError(expected, naive);
        double ourError = MaxAbsError(expected, ours);
        double scale = expected.Max(v => Math.Abs((double)v));
        double ulp = scale * (result.DType == DType.BF16 ? 1.0 / 256 : 1.0 / 2048);
        Assert.True(ourError <= (2 * naiveError) + ulp,
            $"{fixture.Name} {expectedName}: max error {ourError:g4} exceeds 2 × naive {result.DType} error {naiveError:g4} (+ulp {ulp:g3})");
    }
}

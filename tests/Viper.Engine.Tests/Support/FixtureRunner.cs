using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>Runs an op on a fixture's inputs and checks it against the fixture's expected output.</summary>
public static class FixtureRunner
{
    /// <summary>
    /// f32 fixtures: within <see cref="Tolerance.CloseF32"/> (or the given atol/rtol where a test states why);
    /// f16/bf16 fixtures (those with a "naive" tensor): within twice the naive error.
    /// </summary>
    public static void Check(string backendName, string fixtureName, string generator,
        Func<IBackend, OpFixture, Tensor> op, float? atol = null, float? rtol = null)
    {
        using IBackend backend = TestBackends.Create(backendName);
        Check(backend, backendName, fixtureName, generator, op, atol, rtol);
    }

    /// <summary>The same on a backend the test made itself (a device configured for the case), named <paramref name="backendName"/> in messages.</summary>
    public static void Check(IBackend backend, string backendName, string fixtureName, string generator,
        Func<IBackend, OpFixture, Tensor> op, float? atol = null, float? rtol = null)
    {
        using var fixture = new OpFixture(fixtureName, generator);
        using Tensor result = op(backend, fixture);
        if (fixture.Has("naive"))
        {
            Tolerance.WithinTwiceNaive(fixture, result);
            return;
        }

        Assert.Equal(fixture.ShapeOf("expected"), result.Shape);
        Assert.Equal(fixture.DTypeOf("expected"), result.DType);
        string context = $"{fixtureName} on {backendName}";
        if (atol is null && rtol is null)
        {
            Tolerance.CloseF32(fixture.Floats("expected"), result.ToFloats(), context);
        }
        else
        {
            Tolerance.Close(fixture.Floats("expected"), result.ToFloats(), atol ?? 0, rtol ?? 0, context);
        }
    }
}

namespace Viper.Runtime;

/// <summary>Copies built on <see cref="IBackend.CopyInto"/>.</summary>
public static class TensorCopies
{
    /// <summary>A new tensor with <paramref name="x"/>'s values, on the same backend.</summary>
    public static Tensor Clone(this IBackend backend, Tensor x)
    {
        Tensor y = backend.Allocate(x.Shape, x.DType);
        try
        {
            backend.CopyInto(x, y);
            return y;
        }
        catch
        {
            y.Dispose();
            throw;
        }
    }
}

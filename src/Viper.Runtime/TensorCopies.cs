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

    /// <summary>
    /// <paramref name="x"/>'s values on <paramref name="target"/>: a clone on the same backend, a device copy where the
    /// target can make one (<see cref="IDeviceTransfer"/>), else staged through host memory (a download, then an upload;
    /// the CUDA backend stages through its page-locked buffer). The caller owns the result.
    /// </summary>
    public static Tensor CopyTo(this Tensor x, IBackend target)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (ReferenceEquals(x.Backend, target))
        {
            return target.Clone(x);
        }

        if (target is IDeviceTransfer transfer && transfer.TryCopyFrom(x) is { } copied)
        {
            return copied;
        }

        byte[] staged = GC.AllocateUninitializedArray<byte>(checked((int)x.SizeInBytes));
        x.Backend.CopyToHost(x, staged);
        return target.FromHost(staged, x.Shape, x.DType);
    }

    /// <summary><see cref="CopyTo"/> that disposes <paramref name="x"/> when it was moved (returns x itself when already on <paramref name="target"/>).</summary>
    public static Tensor MoveTo(this Tensor x, IBackend target)
    {
        if (ReferenceEquals(x.Backend, target))
        {
            return x;
        }

        Tensor moved = x.CopyTo(target);
        x.Dispose();
        return moved;
    }
}

namespace Viper.Runtime;

/// <summary>
/// Memory owned by one backend. A <see cref="Tensor"/> is a typed, shaped window onto it;
/// the backend that made the storage is the only one that reads or writes it.
/// </summary>
public abstract class TensorStorage : IDisposable
{
    protected TensorStorage(IBackend backend, long sizeInBytes)
    {
        Backend = backend;
        SizeInBytes = sizeInBytes;
    }

    public IBackend Backend { get; }

    public long SizeInBytes { get; }

    public abstract bool IsDisposed { get; }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}

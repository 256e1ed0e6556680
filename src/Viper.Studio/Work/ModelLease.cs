namespace Viper.Studio.Work;

/// <summary>
/// A resident model lent to one job: the job has its device to itself until the lease is disposed, which also records
/// what the run needed on top of the weights (the residency's measurement).
/// </summary>
public sealed class ModelLease<T>(T model, Action returned) : IDisposable
    where T : class
{
    private Action? _returned = returned;

    public T Model { get; } = model;

    public void Dispose()
    {
        Interlocked.Exchange(ref _returned, null)?.Invoke();
    }
}

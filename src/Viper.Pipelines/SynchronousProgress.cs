namespace Viper.Pipelines;

/// <summary>
/// Reports on the calling thread, in order — <see cref="Progress{T}"/> would post each report to the thread pool, where
/// a progress bar or an event stream could see the steps out of order.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

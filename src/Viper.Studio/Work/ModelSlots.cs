using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Studio.Work;

/// <summary>
/// The models the studio has loaded: at most one at a time — the extractor, the generator or the metric — so that an 8B
/// extractor and an SDXL pipeline never share the memory; switching kinds releases the previous model and the backend's
/// cached memory first. Only the job worker uses it (one job at a time), so it needs no lock.
/// </summary>
public sealed class ModelSlots(StudioOptions options) : IDisposable
{
    private readonly Lazy<IBackend> _backend = new(options.Backend);
    private IDisposable? _loaded;

    public IBackend Backend => _backend.Value;

    public PreferenceExtractor Extractor() => Use(() => PreferenceExtractor.Load(
        options.Extractor ?? throw new InvalidOperationException("no extractor is configured: start the studio with --extractor and --adapter"),
        options.ExtractorAdapter ?? throw new InvalidOperationException("the extractor needs its adapter: start the studio with --adapter"),
        Backend, options.DType));

    public ViperPipeline Generator() => Use(() => ViperPipeline.Load(
        options.Generator ?? throw new InvalidOperationException("no generator is configured: start the studio with --model"),
        Backend, new PipelineOptions { DType = options.DType }));

    public ProxyMetric Metric() => Use(() => ProxyMetric.Load(
        options.Metric ?? throw new InvalidOperationException("no metric is configured: start the studio with --metric"),
        options.MetricAdapter, Backend, options.DType));

    public void Dispose()
    {
        Release();
        if (_backend.IsValueCreated)
        {
            _backend.Value.Dispose();
        }
    }

    // Each kind is its own type, so the loaded model's type says which kind is resident.
    private T Use<T>(Func<T> load)
        where T : class, IDisposable
    {
        if (_loaded is T loaded)
        {
            return loaded;
        }

        Release();
        T model = load();
        _loaded = model;
        return model;
    }

    private void Release()
    {
        if (_loaded is null)
        {
            return;
        }

        _loaded.Dispose();
        _loaded = null;
        (Backend as ICachedMemory)?.ReleaseCachedMemory(); // the next model has other shapes: the cache would only add to its peak
    }
}

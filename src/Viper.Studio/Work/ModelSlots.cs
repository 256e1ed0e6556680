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

    /// <summary>The extractor, loaded now (the load reporting to <paramref name="progress"/>, cancellable) unless resident.</summary>
    public PreferenceExtractor Extractor(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) => Use(() => PreferenceExtractor.Load(
        options.Extractor ?? throw new InvalidOperationException("no extractor is configured: start the studio with --extractor and --adapter"),
        options.ExtractorAdapter ?? throw new InvalidOperationException("the extractor needs its adapter: start the studio with --adapter"),
        Backend, options.DType, progress, cancellationToken, options.LinearWeights), progress);

    /// <summary>What the generator is loaded with (also what its images' parameters record names).</summary>
    public PipelineOptions GeneratorOptions { get; } = new()
    {
        DType = options.DType, LinearWeights = options.LinearWeights, ConfigFolder = options.GeneratorConfig, Embeddings = options.Embeddings,
    };

    public ViperPipeline Generator(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) => Use(() => ViperPipeline.Load(
        options.Generator ?? throw new InvalidOperationException("no generator is configured: start the studio with --model"),
        Backend, GeneratorOptions, progress, cancellationToken), progress);

    public ProxyMetric Metric(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) => Use(() => ProxyMetric.Load(
        options.Metric ?? throw new InvalidOperationException("no metric is configured: start the studio with --metric"),
        options.MetricAdapter, Backend, options.DType, progress, cancellationToken, options.LinearWeights), progress);

    public void Dispose()
    {
        Release();
        if (_backend.IsValueCreated)
        {
            _backend.Value.Dispose();
        }
    }

    // Each kind is its own type, so the loaded model's type says which kind is resident (its load is then done at once).
    private T Use<T>(Func<T> load, IProgress<GenerationProgress> progress)
        where T : class, IDisposable
    {
        progress.Report(new GenerationProgress("load", 0, 1));
        if (_loaded is T loaded)
        {
            progress.Report(new GenerationProgress("load", 1, 1));
            return loaded;
        }

        Release();
        T model = load();
        progress.Report(new GenerationProgress("load", 1, 1));
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

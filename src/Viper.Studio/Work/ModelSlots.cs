using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Studio.Work;

/// <summary>
/// The studio's models — the extractor, the generator and the metric — each on the device the options place it on, kept
/// resident per device while they fit (<see cref="DeviceSlots"/>). A job leases the model it needs; jobs on one device
/// run one at a time, jobs on different devices side by side.
/// </summary>
public sealed class ModelSlots(StudioOptions options) : IDisposable
{
    private readonly Dictionary<DeviceName, DeviceSlots> _devices = options.Devices.ToDictionary(d => d, d => new DeviceSlots(d, () => options.Backend(d)));

    /// <summary>Every device some model is placed on, the main one first.</summary>
    public IReadOnlyList<DeviceSlots> Devices => [.. options.Devices.Select(d => _devices[d])];

    /// <summary>The device slots a kind of model lives in.</summary>
    public DeviceSlots SlotsOf(string kind) => _devices[options.DeviceOf(kind)];

    /// <summary>The extractor, leased (loaded now, reporting to <paramref name="progress"/>, cancellable, unless resident).</summary>
    public ModelLease<PreferenceExtractor> Extractor(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        SlotsOf("extractor").Use("extractor", backend => PreferenceExtractor.Load(
            options.Extractor ?? throw new InvalidOperationException("no extractor is configured: start the studio with --extractor and --adapter"),
            options.ExtractorAdapter ?? throw new InvalidOperationException("the extractor needs its adapter: start the studio with --adapter"),
            backend, options.DType, progress, cancellationToken, options.LinearWeights), progress, cancellationToken);

    /// <summary>What the generator is loaded with (also what its images' parameters record names).</summary>
    public PipelineOptions GeneratorOptions { get; } = new()
    {
        DType = options.DType, LinearWeights = options.LinearWeights, ConfigFolder = options.GeneratorConfig, Embeddings = options.Embeddings,
    };

    public ModelLease<ViperPipeline> Generator(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        SlotsOf("generator").Use("generator", backend => ViperPipeline.Load(
            options.Generator ?? throw new InvalidOperationException("no generator is configured: start the studio with --model"),
            backend, GeneratorOptions, progress, cancellationToken), progress, cancellationToken);

    public ModelLease<ProxyMetric> Metric(IProgress<GenerationProgress> progress, CancellationToken cancellationToken) =>
        SlotsOf("metric").Use("metric", backend => ProxyMetric.Load(
            options.Metric ?? throw new InvalidOperationException("no metric is configured: start the studio with --metric"),
            options.MetricAdapter, backend, options.DType, progress, cancellationToken, options.LinearWeights), progress, cancellationToken);

    public void Dispose()
    {
        foreach (DeviceSlots slots in _devices.Values)
        {
            slots.Dispose();
        }
    }
}

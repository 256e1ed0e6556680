using Viper.Pipelines;
using Viper.Pipelines.Chat;
using Viper.Runtime;

namespace Viper.Studio;

/// <summary>What `viper studio` serves: its workspace, the models of each kind, where they run and the upload limits.</summary>
public sealed record StudioOptions
{
    /// <summary>The session's folder: images (uploads, starter set, generated) and the preferences file live under it.</summary>
    public required string Workspace { get; init; }

    /// <summary>Images to offer for commenting, imported at start (a folder of images, e.g. what `viper starter-set` wrote).</summary>
    public string? StarterFolder { get; init; }

    /// <summary>The diffusers pipeline folder that generates (SDXL for ViPer; any SD the engine runs works).</summary>
    public string? Generator { get; init; }

    /// <summary>For a single-file <see cref="Generator"/>: the diffusers folder of its configs (null: the bundled ones).</summary>
    public string? GeneratorConfig { get; init; }

    /// <summary>Textual-inversion embeddings the generator loads; their tokens can be used in prompts.</summary>
    public IReadOnlyList<EmbeddingToken> Embeddings { get; init; } = [];

    /// <summary>A folder of LoRA .safetensors files the page may pick from, by name (null: none).</summary>
    public string? LoraFolder { get; init; }

    /// <summary>The IDEFICS2 folder and the VPE-ViPer adapter folder of the preference extractor.</summary>
    public string? Extractor { get; init; }

    public string? ExtractorAdapter { get; init; }

    /// <summary>The IDEFICS2 folder and the Metric-ViPer adapter folder of the proxy metric (scores are shown only with one).</summary>
    public string? Metric { get; init; }

    public string? MetricAdapter { get; init; }

    /// <summary>Opens the backend of a device (called once per device the models are placed on, when first needed).</summary>
    public required Func<DeviceName, IBackend> Backend { get; init; }

    /// <summary>The device models run on unless <see cref="Placement"/> puts them elsewhere.</summary>
    public DeviceName Device { get; init; } = DeviceName.Cpu;

    /// <summary>Models placed on other devices than <see cref="Device"/>, by kind: extractor, generator, metric (`--place`).</summary>
    public IReadOnlyDictionary<string, DeviceName> Placement { get; init; } = new Dictionary<string, DeviceName>();

    /// <summary>The model kinds <see cref="Placement"/> may name.</summary>
    public static IReadOnlyList<string> ModelKinds { get; } = ["extractor", "generator", "metric"];

    /// <summary>The device a kind of model runs on.</summary>
    public DeviceName DeviceOf(string kind) => Placement.GetValueOrDefault(kind, Device);

    /// <summary>Every device some model runs on (one job worker each), the main device first.</summary>
    public IReadOnlyList<DeviceName> Devices => [.. ModelKinds.Select(DeviceOf).Prepend(Device).Distinct()];

    public DType DType { get; init; } = DType.F32;

    /// <summary>The format every model's linear weights are kept in (null: <see cref="DType"/>).</summary>
    public DType? LinearWeights { get; init; }

    /// <summary>The extractor's generation settings (the authors': 2000 new tokens, repetition penalty 0.99).</summary>
    public ChatOptions ExtractorOptions { get; init; } = Pipelines.Preferences.PreferenceExtractor.DefaultOptions;

    /// <summary>The largest upload accepted, per file.</summary>
    public long MaxUploadBytes { get; init; } = 20L << 20;

    /// <summary>The most pixels an uploaded image may have (larger ones are refused before decoding).</summary>
    public long MaxUploadPixels { get; init; } = 40_000_000;

    /// <summary>Where Kestrel listens; loopback unless the user says otherwise.</summary>
    public string Url { get; init; } = "http://127.0.0.1:5170";
}

using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Models.SingleFile;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Pipelines;

/// <summary>
/// Where a pipeline's models come from: a diffusers folder, or a single-file checkpoint (A1111/ComfyUI layout) with the
/// configs, tokenizers and scheduler of a config folder — the one given (<c>from_single_file(config=…)</c>) or the
/// bundled defaults for the file's family. Single files load through <see cref="MappedWeights"/>, a tensor at a time.
/// </summary>
public sealed class PipelineSource : IDisposable
{
    private readonly Dictionary<string, WeightStore> _stores = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ClipTextConfig> _textConfigs = new(StringComparer.Ordinal);
    private IReadOnlyList<ComponentTensors>? _components;
    private UNet2DConditionConfig? _unetConfig;
    private AutoencoderKLConfig? _vaeConfig;

    private readonly string? _bundledFolder;

    private PipelineSource(string path, ModelIndex index, SingleFileCheckpoint? singleFile, string? bundledFolder = null) =>
        (Path, Index, SingleFile, _bundledFolder) = (path, index, singleFile, bundledFolder);

    /// <summary>The folder or file the weights come from.</summary>
    public string Path { get; }

    /// <summary>The configs, tokenizers and scheduler (the folder itself, or the single file's config folder).</summary>
    public ModelIndex Index { get; }

    public SingleFileCheckpoint? SingleFile { get; }

    /// <summary>Stored tensors of a single file that no model reads and upstream ignores too (see <see cref="SingleFileCheckpoint.Check"/>).</summary>
    public IReadOnlyList<string> Ignored { get; private set; } = [];

    /// <summary>Opens a diffusers folder, or a single file with <paramref name="configFolder"/> (null: the bundled config of its family, <see cref="BundledConfigs"/>).</summary>
    public static PipelineSource Open(string path, string? configFolder = null)
    {
        if (Directory.Exists(path))
        {
            return configFolder is null ? new PipelineSource(path, ModelIndex.Load(path), null)
                : throw new ArgumentException($"{path} is a diffusers folder: a config folder applies to single-file checkpoints only", nameof(configFolder));
        }

        SingleFileCheckpoint file = SingleFileCheckpoint.Open(path);
        string? bundled = null;
        try
        {
            if (configFolder is null)
            {
                bundled = Directory.CreateTempSubdirectory($"viper-{file.Family.Name()}-config-").FullName;
                BundledConfigs.Write(file.Family, bundled);
            }

            string folder = configFolder ?? bundled!;
            ModelIndex index = ModelIndex.Load(folder);
            bool xl = file.Family is SingleFileFamily.StableDiffusionXl or SingleFileFamily.StableDiffusionXlRefiner;
            if (xl != index.Has("text_encoder_2") || (file.Family == SingleFileFamily.StableDiffusionXlRefiner) == index.Has("text_encoder"))
            {
                throw new ModelConfigException($"{path} is a {file.Family.Name()} checkpoint; the config folder {folder} is a {index.ClassName} with other text encoders");
            }

            return new PipelineSource(path, index, file, bundled);
        }
        catch
        {
            file.Dispose();
            DeleteFolder(bundled);
            throw;
        }
    }

    /// <summary>
    /// For a single file: checks every component's tensors against the file before anything loads (one error lists every
    /// missing, mis-shaped or unexpected tensor). A folder is checked as each model loads.
    /// </summary>
    public void Check(IBackend backend)
    {
        if (SingleFile is { } file)
        {
            Ignored = file.Check(Components(backend));
        }
    }

    /// <summary>
    /// A single file's components — unet, vae and the text encoders the config has — each with the diffusers names and
    /// shapes its model asks for (recorded once, without reading or allocating anything) and the map to the file's names.
    /// </summary>
    internal IReadOnlyList<ComponentTensors> Components(IBackend backend)
    {
        if (_components is not null)
        {
            return _components;
        }

        SingleFileCheckpoint file = SingleFile ?? throw new InvalidOperationException($"{Path} is a diffusers folder, not a single file");
        var components = new List<ComponentTensors>();
        UNet2DConditionConfig unet = UnetConfig;
        components.Add(new("unet", SingleFileLayout.UnetPrefix, Names(backend, r => new UNet2DConditionModel(r.Root, unet)), file.UnetNames(unet)));
        AutoencoderKLConfig vae = VaeConfig;
        components.Add(new("vae", SingleFileLayout.VaePrefix, Names(backend, r => new AutoencoderKL(r.Root, vae)), file.VaeNames(vae)));
        foreach (string component in TextEncoders)
        {
            ClipTextConfig config = TextConfig(component);
            bool projection = Projection(component);
            Func<string, TensorRecipe> map = file.TextEncoderNames(component, config);
            components.Add(new(component, file.TextEncoderLayout(component).Prefix, Names(backend, r => new ClipTextModel(r.Root, config, projection)), map, config.NumHiddenLayers));
        }

        return _components = components;
    }

    /// <summary>The base name of a component's weight files: transformers' <c>model</c> for the text encoders, diffusers' <c>diffusion_pytorch_model</c> otherwise.</summary>
    public static string WeightsBaseName(string component) =>
        component.StartsWith("text_encoder", StringComparison.Ordinal) ? "model" : "diffusion_pytorch_model";

    /// <summary>The text encoder components the config has, in order (text_encoder, text_encoder_2).</summary>
    public IEnumerable<string> TextEncoders => new[] { "text_encoder", "text_encoder_2" }.Where(Index.Has);

    // Read once: a LoRA merge asks for a component's map (and so its config) once per adapted parameter.
    public UNet2DConditionConfig UnetConfig => _unetConfig ??= UNet2DConditionConfig.Load(ConfigOf("unet"));

    public AutoencoderKLConfig VaeConfig => _vaeConfig ??= AutoencoderKLConfig.Load(ConfigOf("vae"));

    public ClipTextConfig TextConfig(string component)
    {
        if (!_textConfigs.TryGetValue(component, out ClipTextConfig? config))
        {
            config = ClipTextConfig.Load(ConfigOf(component));
            _textConfigs[component] = config;
        }

        return config;
    }

    public UNet2DConditionModel LoadUnet(IBackend backend, PipelineOptions options, CancellationToken cancellationToken = default)
    {
        if (SingleFile is not { } file)
        {
            return UNet2DConditionModel.Load(Index.PathOf("unet"), backend, options.DType, options.Variant, options.LinearWeights);
        }

        UNet2DConditionConfig config = UnetConfig;
        return new UNet2DConditionModel(file.Weights(file.UnetNames(config), backend, options.DType, options.LinearWeights, cancellationToken).Root, config);
    }

    public ClipTextModel LoadTextEncoder(string component, IBackend backend, PipelineOptions options, CancellationToken cancellationToken = default)
    {
        if (SingleFile is not { } file)
        {
            return ClipTextModel.Load(Index.PathOf(component), backend, options.DType, options.Variant, options.LinearWeights);
        }

        ClipTextConfig config = TextConfig(component);
        return new ClipTextModel(file.Weights(file.TextEncoderNames(component, config), backend, options.DType, options.LinearWeights, cancellationToken).Root,
            config, Projection(component));
    }

    /// <summary>The VAE: <paramref name="override"/> (a diffusers vae folder or a standalone VAE file) when given, else the source's.</summary>
    public AutoencoderKL LoadVae(IBackend backend, PipelineOptions options, CancellationToken cancellationToken = default)
    {
        if (options.Vae is { } vae)
        {
            return StandaloneVae.Load(vae, VaeConfig, backend, options.DType, cancellationToken);
        }

        if (SingleFile is not { } file)
        {
            return AutoencoderKL.Load(Index.PathOf("vae"), backend, options.DType, options.Variant);
        }

        AutoencoderKLConfig config = VaeConfig;
        return new AutoencoderKL(file.Weights(file.VaeNames(config), backend, config.ForceUpcast ? DType.F32 : options.DType, cancellationToken: cancellationToken).Root, config);
    }

    /// <summary>
    /// Parameter <paramref name="name"/> of <paramref name="component"/> as the checkpoint stores it, widened to f32 in the
    /// checkpoint's layout (conv weights (Cout, Cin, KH, KW)): what adapters merge into, so a merge rounds only once.
    /// </summary>
    public Tensor ReadStored(string component, string name, Shape shape, IBackend backend, string? variant = null)
    {
        if (SingleFile is { } file)
        {
            Func<string, TensorRecipe> map = component == "unet" ? file.UnetNames(UnetConfig) : file.TextEncoderNames(component, TextConfig(component));
            TensorRecipe recipe = map(name);
            TensorEntry entry = file.Reader.Entry(recipe.Source);
            return backend.FromFloats(HostTensors.DecodeFloats(recipe.Cut(file.Reader.Bytes(recipe.Source), entry.Shape, entry.DType), entry.DType), shape);
        }

        if (!_stores.TryGetValue(component, out WeightStore? store))
        {
            store = CheckpointFiles.Open(Index.PathOf(component), WeightsBaseName(component), variant);
            _stores[component] = store;
        }

        if (QuantizedCheckpoint.StoredFormat(store, name) is { } format)
        {
            throw new WeightsException($"{store.Source}: '{name}' is stored as {format.Label()}; an adapter merges into float weights only");
        }

        return store.Load(backend, name, shape, DType.F32);
    }

    public void Dispose()
    {
        SingleFile?.Dispose();
        DeleteFolder(_bundledFolder);
        foreach (WeightStore store in _stores.Values)
        {
            store.Dispose();
        }
    }

    private static void DeleteFolder(string? folder)
    {
        if (folder is not null && Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The diffusers names and shapes a model asks for, without reading or allocating anything.</summary>
    internal static IReadOnlyDictionary<string, Shape> Names(IBackend backend, Func<ShapeRecorder, IDisposable> build)
    {
        var recorder = new ShapeRecorder(backend);
        build(recorder).Dispose();
        return recorder.Tensors.ToDictionary(t => t.Key, t => new Shape(t.Value.Shape), StringComparer.Ordinal);
    }

    // transformers' CLIPTextModelWithProjection: SDXL's second encoder (base and refiner); SD2's is a plain CLIPTextModel.
    private bool Projection(string component) => component == "text_encoder_2";

    private string ConfigOf(string component) => System.IO.Path.Combine(Index.PathOf(component), "config.json");
}

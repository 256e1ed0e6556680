using System.Diagnostics;
using Viper.Imaging;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>Where and how a pipeline runs.</summary>
public sealed record PipelineOptions
{
    /// <summary>The dtype of the text encoders and UNets (a VAE with force_upcast stays f32).</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>
    /// The format the UNets' and text encoders' linear weights are kept in: int8, fp8, q8_0, q4_0 or a float dtype (null:
    /// <see cref="DType"/>). Convolutions, norms and the VAE stay in the compute dtype.
    /// </summary>
    public DType? LinearWeights { get; init; }

    /// <summary>An SDXL refiner (a diffusers folder or a single file), run after the base for the last (1 − denoising_end) of the schedule.</summary>
    public string? RefinerFolder { get; init; }

    /// <summary>
    /// For a single-file model: the diffusers folder whose configs, tokenizers and scheduler to use (diffusers'
    /// <c>from_single_file(config=…)</c>); null takes the bundled defaults of the file's family (<see cref="PipelineSource.BundledConfigs"/>).
    /// </summary>
    public string? ConfigFolder { get; init; }

    /// <summary><see cref="ConfigFolder"/> for a single-file refiner (null: the bundled sdxl-refiner config).</summary>
    public string? RefinerConfigFolder { get; init; }

    /// <summary>
    /// What the UNets predict, overriding the scheduler config: "epsilon" or "v_prediction" (SD2.x 768-v). Weights do not
    /// say it, so a single file whose model differs from its family's default needs it. Null: the scheduler config's.
    /// </summary>
    public string? Prediction { get; init; }

    /// <summary>Textual-inversion embeddings whose tokens prompts and negative prompts may use (see <see cref="EmbeddingToken"/>).</summary>
    public IReadOnlyList<EmbeddingToken> Embeddings { get; init; } = [];

    /// <summary>A VAE to use instead of the model's: a diffusers vae folder, or a file in diffusers or original names.</summary>
    public string? Vae { get; init; }

    /// <summary>Weight file variant (e.g. "fp16" for diffusion_pytorch_model.fp16.safetensors).</summary>
    public string? Variant { get; init; }

    /// <summary>
    /// On a backend that records graphs (CUDA): record each stage's per-step network evaluation once and replay it, which
    /// removes the per-kernel launch cost of every step. The graph keeps the step's activations allocated for the whole
    /// stage (about the eager step's peak), so it is an option, off by default. Ignored on the CPU backend.
    /// </summary>
    public bool CaptureSteps { get; init; }

    /// <summary>
    /// SDXL: an OpenCLIP bigG CLIP folder (text_model + text_projection) whose text model is tuned for text_encoder_2; null
    /// tunes a copy of the pipeline's own text_encoder_2 (CLIPTextModelWithProjection: the same tower).
    /// </summary>
    public string? AestheticClipGFolder { get; init; }

    /// <summary>
    /// A CLIP model folder (text_model + text_projection, openai/clip-vit-large-patch14 for SD1.x) for aesthetic gradients
    /// (<see cref="GenerationRequest.Aesthetic"/>): its text model is what gets personalized, so it must match the pipeline's
    /// text encoder in shape (real SD1.x downloads hold the same weights).
    /// </summary>
    public string? AestheticClipFolder { get; init; }

    /// <summary>
    /// Components placed on other backends than the load's (<see cref="PlacedComponents"/>: "text" — the base's text
    /// encoders and the aesthetic towers —, "unet", "refiner" — the refiner's text encoder and UNet —, "vae"); the rest
    /// run on the load's backend. Tensors move between them where one component hands the next its input. Each backend
    /// stays the caller's.
    /// </summary>
    public IReadOnlyDictionary<string, IBackend> Placement { get; init; } = new Dictionary<string, IBackend>();

    /// <summary>The components <see cref="Placement"/> may name.</summary>
    public static IReadOnlyList<string> PlacedComponents { get; } = ["text", "unet", "refiner", "vae"];

    /// <summary>The backend <paramref name="component"/> runs on.</summary>
    internal IBackend Place(string component, IBackend backend) => Placement.GetValueOrDefault(component) ?? backend;
}

/// <summary>
/// Stable Diffusion (1.x, 2.x, XL with an optional refiner) personalized with ViPer visual preferences, loaded from
/// diffusers pipeline folders. Holds the models' native memory on <paramref name="backend"/> until disposed; the
/// backend itself stays the caller's.
/// </summary>
public sealed class ViperPipeline : IDisposable
{
    private readonly IBackend _vaeBackend;
    private readonly Stage _base;
    private readonly Stage? _refiner;
    private readonly AutoencoderKL _vae;
    private readonly PipelineOptions _options;
    private readonly AestheticTowers? _aesthetic;
    private readonly PipelineSource _source;
    private readonly PipelineSource? _refinerSource;
    private readonly LoraSwitch _loras;

    private ViperPipeline(IBackend vaeBackend, Stage baseStage, Stage? refiner, AutoencoderKL vae, PipelineOptions options, AestheticTowers? aesthetic,
        PipelineSource source, PipelineSource? refinerSource)
    {
        (_vaeBackend, _base, _refiner, _vae, _options, _aesthetic) = (vaeBackend, baseStage, refiner, vae, options, aesthetic);
        (_source, _refinerSource) = (source, refinerSource);
        _loras = new LoraSwitch(baseStage, source, options);
    }

    private IBackend UnetBackend => _base.UnetBackend;

    /// <summary>
    /// Stored tensors of a single-file model that no model reads and that upstream ignores as well (EMA weights, the DDPM
    /// schedule buffers, …), for a warning; empty for folders.
    /// </summary>
    public IReadOnlyList<string> IgnoredTensors => [.. _source.Ignored, .. _refinerSource?.Ignored ?? []];

    public UNet2DConditionConfig UnetConfig => _base.Unet.Config;

    public bool HasRefiner => _refiner is not null;

    /// <summary>The default image size: the UNet's sample_size times the VAE's down factor (512 for SD1.5, 1024 for SDXL).</summary>
    public int DefaultSize => Geometry.DefaultSize;

    /// <summary>Width and height must be multiples of this: the VAE's down factor times the UNet's total downsampling.</summary>
    public int SizeMultiple => Geometry.SizeMultiple;

    private PipelineGeometry Geometry => new(_base.Unet.Config, _vae.Config);

    public static ViperPipeline Load(string folder, IBackend backend, PipelineOptions? options = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new PipelineOptions();
        if (options.Prediction is not (null or "epsilon" or "v_prediction"))
        {
            throw new ArgumentException($"prediction '{options.Prediction}' is not epsilon or v_prediction", nameof(options));
        }

        if (options.Placement.Keys.FirstOrDefault(k => !PipelineOptions.PlacedComponents.Contains(k)) is { } unknown)
        {
            throw new ArgumentException($"placement names '{unknown}', not a pipeline component ({string.Join(", ", PipelineOptions.PlacedComponents)})", nameof(options));
        }

        TextualInversion[] embeddings = options.Embeddings.Select(TextualInversion.Read).ToArray(); // before any model loads
        var owned = new List<IDisposable>();
        try
        {
            PipelineSource source = owned.Added(PipelineSource.Open(folder, options.ConfigFolder));
            PipelineSource? refinerSource = options.RefinerFolder is { } r ? owned.Added(PipelineSource.Open(r, options.RefinerConfigFolder)) : null;
            source.Check(backend);
            refinerSource?.Check(backend);
            progress?.Report(new GenerationProgress("load", 0, refinerSource is null ? 1 : 2));
            IBackend text = options.Place("text", backend), vaeBackend = options.Place("vae", backend), refinerBackend = options.Place("refiner", backend);
            Stage baseStage = Stage.Load(source, text, options.Place("unet", backend), options, owned, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            AutoencoderKL vae = owned.Added(source.LoadVae(vaeBackend, options, cancellationToken));
            Stage? refiner = null;
            if (refinerSource is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                refiner = Stage.Load(refinerSource, refinerBackend, refinerBackend, options, owned, cancellationToken);
                if (refiner.Unet.Config.AdditionEmbedType != "text_time" || baseStage.Unet.Config.AdditionEmbedType != "text_time")
                {
                    throw new Viper.Weights.ModelConfigException("a refiner follows an SDXL base: both UNets must use text_time conditioning");
                }
            }

            baseStage.AddEmbeddings(embeddings);
            refiner?.AddEmbeddings(embeddings.Where(e => e.ClipG is not null).ToArray()); // the refiner has bigG only
            AestheticTowers? aesthetic = null;
            if (options.AestheticClipFolder is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                aesthetic = owned.Added(AestheticTowers.Load(options, source, refinerSource, baseStage, text, cancellationToken));
            }

            progress?.Report(new GenerationProgress("load", refinerSource is null ? 1 : 2, refinerSource is null ? 1 : 2));
            return new ViperPipeline(vaeBackend, baseStage, refiner, vae, options, aesthetic, source, refinerSource);
        }
        catch
        {
            owned.ForEach(o => o.Dispose());
            throw;
        }
    }

    /// <summary>The sampler used when a request names none: the folder's scheduler class (or Euler, with a fallback note).</summary>
    public (string Name, string? Fallback) DefaultScheduler => SchedulerKind.DefaultFor(_base.SchedulerConfig);

    /// <summary>What a caller should know before running <paramref name="request"/>: truncated texts, a scheduler fallback.</summary>
    public IReadOnlyList<string> Warnings(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var warnings = _base.TruncationWarnings(request).ToList();
        if (request.Scheduler is null && DefaultScheduler.Fallback is { } fallback)
        {
            warnings.Add(fallback);
        }

        if (request.Aesthetic is { } aesthetic && _aesthetic is not null)
        {
            warnings.AddRange(_aesthetic.Warnings(aesthetic));
        }

        return warnings;
    }

    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        int factor = SizeMultiple;
        request.Validate(factor);
        int width = request.Width ?? request.InitImage?.Width ?? DefaultSize;
        int height = request.Height ?? request.InitImage?.Height ?? DefaultSize;
        if (width % factor != 0 || height % factor != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"width and height must be multiples of {factor} for this pipeline, not {width}×{height}");
        }

        if (request.InitImage is { } image && (image.Width != width || image.Height != height))
        {
            throw new ArgumentException($"the initial image is {image.Width}×{image.Height}, the requested size {width}×{height}", nameof(request));
        }

        var timings = new List<StageTiming>();
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        int n = request.Batch;
        (int h, int w, int c) = (height / _vae.Config.DownFactor, width / _vae.Config.DownFactor, _base.Unet.Config.InChannels);
        if (request.Latents is { } given && given.Length != n * c * h * w)
        {
            throw new ArgumentException($"the initial latents hold {given.Length} values; ({n}, {c}, {h}, {w}) needs {n * c * h * w}", nameof(request));
        }

        string schedulerName = request.Scheduler ?? DefaultScheduler.Name;
        Scheduler scheduler = SchedulerKind.Create(_base.SchedulerConfig, schedulerName);
        scheduler.SetTimesteps(request.Steps);
        int start = request.InitImage is null ? 0 : scheduler.StartForStrength(request.Strength);
        if (start >= scheduler.Timesteps.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"strength {request.Strength} keeps no step of {request.Steps}: raise the strength or the steps");
        }

        var warnings = Warnings(request);
        _loras.Use(request.Loras, cancellationToken);
        using AestheticConditioning? aesthetic = Personalize(request, progress, cancellationToken);
        if (aesthetic is not null)
        {
            timings.Add(new StageTiming("aesthetic", clock.Elapsed));
            clock.Restart();
        }

        progress?.Report(new GenerationProgress("text", 0, 1));
        (string Liked, string Disliked)? preference = Stage.PreferenceTexts(request);
        using Conditioning baseConditioning = _base.Condition(request, preference, n, height, width, refiner: false, aesthetic?.Base);
        using Conditioning? refinerConditioning = _refiner?.Condition(request, null, n, height, width, refiner: true, aesthetic?.Refiner);
        progress?.Report(new GenerationProgress("text", 1, 1));
        timings.Add(new StageTiming("text", clock.Elapsed));

        var generator = new TorchGenerator(request.Seed);
        using var latents = new MovingTensor(request.InitImage is { } init
            ? NoisedImageLatents(init, scheduler, start, n, generator)
            : InitialLatents(request.Latents ?? generator.Randn(n * c * h * w), (float)scheduler.InitNoiseSigma, n, c, h, w));
        scheduler.BeginIndex = start;

        clock.Restart();
        Action<int>? Observer(string stage, Scheduler s, int from, int to) => request.OnStepEnd is { } callback
            ? i => callback(new StepState(stage, i, i - from + 1, to - from, s.Timesteps[i],
                LatentLayout.NhwcToNchw(latents.Current.ToFloats(), n, h, w, c), [n, c, h, w], Preview))
            : null;
        int baseSteps = _refiner is null || request.DenoisingEnd >= 1 ? scheduler.Timesteps.Length : scheduler.StepsBefore(request.DenoisingEnd);
        int? baseGraph = new Denoiser(UnetBackend, _base.Unet, _options.DType, _options.CaptureSteps)
            .Run("base", scheduler, start, baseSteps, latents.Current, baseConditioning, generator, progress, Observer("base", scheduler, start, baseSteps),
                cancellationToken);
        timings.Add(new StageTiming("base", clock.Elapsed, baseGraph));

        if (_refiner is not null && refinerConditioning is not null && baseSteps < scheduler.Timesteps.Length)
        {
            clock.Restart();
            Scheduler refinerScheduler = SchedulerKind.Create(_refiner.SchedulerConfig, schedulerName);
            refinerScheduler.SetTimesteps(request.Steps);
            int from = Math.Max(refinerScheduler.StartAt(request.DenoisingEnd), start);
            refinerScheduler.BeginIndex = from;
            int to = refinerScheduler.Timesteps.Length;
            latents.MoveTo(_refiner.UnetBackend);
            int? refinerGraph = new Denoiser(_refiner.UnetBackend, _refiner.Unet, _options.DType, _options.CaptureSteps)
                .Run("refiner", refinerScheduler, from, to, latents.Current, refinerConditioning, generator, progress,
                    Observer("refiner", refinerScheduler, from, to), cancellationToken);
            timings.Add(new StageTiming("refiner", clock.Elapsed, refinerGraph));
        }

        cancellationToken.ThrowIfCancellationRequested();
        clock.Restart();
        progress?.Report(new GenerationProgress("decode", 0, 1));
        float[] finalLatents = latents.Current.ToFloats();
        latents.MoveTo(_vaeBackend);
        using Tensor unscaled = _vaeBackend.Scale(latents.Current, (float)(1 / _vae.Config.ScalingFactor));
        using Tensor decoded = _vae.Decode(_vaeBackend, unscaled);
        float[] pixels = decoded.ToFloats().Select(v => Math.Clamp((v / 2) + 0.5f, 0f, 1f)).ToArray();
        progress?.Report(new GenerationProgress("decode", 1, 1));
        timings.Add(new StageTiming("decode", clock.Elapsed));
        timings.Add(new StageTiming("total", total.Elapsed));
        return new GenerationResult(ToImages(pixels, n, height, width), pixels, LatentLayout.NhwcToNchw(finalLatents, n, h, w, c), timings)
        {
            Scheduler = schedulerName, Width = width, Height = height, LikedText = preference?.Liked ?? "", DislikedText = preference?.Disliked ?? "",
            Warnings = warnings, AestheticLosses = aesthetic?.Losses, AestheticLossesG = aesthetic?.LossesG,
        };
    }

    /// <summary>
    /// Aesthetic gradients for the request's prompt (none without <see cref="GenerationRequest.Aesthetic"/>): T Adam steps on
    /// the CLIP folder's text model, whose last_hidden_state then stands in for the prompt's (ViPer's terms, when asked for,
    /// are applied to it afterwards; the negative/unconditional prompt and VP+/VP− use the pipeline's own encoder).
    /// </summary>
    private AestheticConditioning? Personalize(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        if (request.Aesthetic is not { } settings || !settings.Active)
        {
            return null; // T = 0 or weight 0: the plain conditioning, bit for bit
        }

        if (_aesthetic is null)
        {
            throw new ArgumentException("the request asks for aesthetic gradients, but the pipeline was loaded without a CLIP folder (PipelineOptions.AestheticClipFolder, --aesthetic-clip)", nameof(request));
        }

        if (request.LongText == LongTextMode.Chunk)
        {
            throw new ArgumentException("aesthetic gradients personalize the prompt's one 77-token window; they do not combine with chunked long text", nameof(request));
        }

        return _aesthetic.Personalize(request.Prompt, settings, _base.Text, _refiner?.Text, progress, cancellationToken);
    }

    /// <summary>The step preview's latent→RGB map for this pipeline's family (SDXL or SD), for 4-channel latents.</summary>
    private LatentPreview? Preview => _base.Unet.Config.InChannels != 4 ? null
        : _base.Index.ClassName.StartsWith("StableDiffusionXL", StringComparison.Ordinal) ? LatentPreview.StableDiffusionXl : LatentPreview.StableDiffusion;

    private Tensor InitialLatents(float[] nchw, float sigma, int n, int c, int h, int w) =>
        UnetBackend.FromFloats(LatentLayout.NchwToNhwc(nchw.Select(v => v * sigma).ToArray(), n, c, h, w), new Shape(n, h, w, c));

    /// <summary>
    /// diffusers' img2img prepare_latents: the VAE's latent distribution of the image sampled with the generator
    /// (mean + std·randn), times scaling_factor, repeated for the batch, then add_noise at the first step kept.
    /// </summary>
    private Tensor NoisedImageLatents(RgbImage image, Scheduler scheduler, int start, int n, TorchGenerator generator)
    {
        float[] pixels = image.Pixels.Select(p => (2f * (p / 255f)) - 1f).ToArray(); // pil_to_numpy p/255, then normalize 2x − 1, in f32
        using Tensor input = _vaeBackend.FromFloats(pixels, new Shape(1, image.Height, image.Width, 3));
        LatentDistribution dist = _vae.Encode(_vaeBackend, input);
        (int h, int w, int c) = (dist.Shape[1], dist.Shape[2], dist.Shape[3]);
        float[] mean = LatentLayout.NhwcToNchw(dist.Mean, 1, h, w, c);
        float[] std = LatentLayout.NhwcToNchw(dist.Std, 1, h, w, c);
        float[] draw = generator.Randn(c * h * w);
        float scaling = (float)_vae.Config.ScalingFactor;
        float[] clean = Enumerable.Range(0, c * h * w).Select(i => scaling * (mean[i] + (std[i] * draw[i]))).ToArray();
        float[] noise = generator.Randn(n * c * h * w);
        (double a, double s) = scheduler.NoiseParts(start);
        float[] noised = Enumerable.Range(0, n * c * h * w).Select(i => (float)((a * clean[i % (c * h * w)]) + (s * noise[i]))).ToArray();
        return UnetBackend.FromFloats(LatentLayout.NchwToNhwc(noised, n, c, h, w), new Shape(n, h, w, c));
    }

    public void Dispose()
    {
        _base.Dispose();
        _refiner?.Dispose();
        _vae.Dispose();
        _aesthetic?.Dispose();
        _source.Dispose();
        _refinerSource?.Dispose();
    }

    // diffusers numpy_to_pil: (pixels · 255).round() as uint8 (NumPy rounds half to even).
    private static RgbImage[] ToImages(float[] pixels, int n, int height, int width)
    {
        int size = height * width * 3;
        return Enumerable.Range(0, n)
            .Select(i => new RgbImage(width, height, pixels.AsSpan(i * size, size).ToArray().Select(p => (byte)MathF.Round(p * 255f)).ToArray()))
            .ToArray();
    }
}

using System.Diagnostics;
using Viper.Imaging;
using Viper.Models.Unet;
using Viper.Models.Vae;
using Viper.Runtime;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>Where and how a pipeline runs.</summary>
public sealed record PipelineOptions
{
    /// <summary>The dtype of the text encoders and UNets (a VAE with force_upcast stays f32).</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>A diffusers SDXL refiner folder, run after the base for the last (1 − denoising_end) of the schedule.</summary>
    public string? RefinerFolder { get; init; }

    /// <summary>Weight file variant (e.g. "fp16" for diffusion_pytorch_model.fp16.safetensors).</summary>
    public string? Variant { get; init; }

    /// <summary>
    /// On a backend that records graphs (CUDA): record each stage's per-step network evaluation once and replay it, which
    /// removes the per-kernel launch cost of every step. The graph keeps the step's activations allocated for the whole
    /// stage (about the eager step's peak), so it is an option, off by default. Ignored on the CPU backend.
    /// </summary>
    public bool CaptureSteps { get; init; }
}

/// <summary>
/// Stable Diffusion (1.x, 2.x, XL with an optional refiner) personalized with ViPer visual preferences, loaded from
/// diffusers pipeline folders. Holds the models' native memory on <paramref name="backend"/> until disposed; the
/// backend itself stays the caller's.
/// </summary>
public sealed class ViperPipeline : IDisposable
{
    private readonly IBackend _backend;
    private readonly Stage _base;
    private readonly Stage? _refiner;
    private readonly AutoencoderKL _vae;
    private readonly PipelineOptions _options;

    private ViperPipeline(IBackend backend, Stage baseStage, Stage? refiner, AutoencoderKL vae, PipelineOptions options)
    {
        (_backend, _base, _refiner, _vae, _options) = (backend, baseStage, refiner, vae, options);
    }

    public UNet2DConditionConfig UnetConfig => _base.Unet.Config;

    public bool HasRefiner => _refiner is not null;

    /// <summary>The default image size: the UNet's sample_size times the VAE's down factor (512 for SD1.5, 1024 for SDXL).</summary>
    public int DefaultSize => _base.Unet.Config.SampleSize * _vae.Config.DownFactor;

    public static ViperPipeline Load(string folder, IBackend backend, PipelineOptions? options = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new PipelineOptions();
        ModelIndex index = ModelIndex.Load(folder);
        ModelIndex? refinerIndex = options.RefinerFolder is { } r ? ModelIndex.Load(r) : null;
        var owned = new List<IDisposable>();
        try
        {
            progress?.Report(new GenerationProgress("load", 0, refinerIndex is null ? 1 : 2));
            Stage baseStage = Stage.Load(index, backend, options, owned);
            cancellationToken.ThrowIfCancellationRequested();
            AutoencoderKL vae = owned.Added(AutoencoderKL.Load(index.PathOf("vae"), backend, options.DType, options.Variant));
            Stage? refiner = null;
            if (refinerIndex is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                refiner = Stage.Load(refinerIndex, backend, options, owned);
                if (refiner.Unet.Config.AdditionEmbedType != "text_time" || baseStage.Unet.Config.AdditionEmbedType != "text_time")
                {
                    throw new Viper.Weights.ModelConfigException("a refiner follows an SDXL base: both UNets must use text_time conditioning");
                }
            }

            progress?.Report(new GenerationProgress("load", refinerIndex is null ? 1 : 2, refinerIndex is null ? 1 : 2));
            return new ViperPipeline(backend, baseStage, refiner, vae, options);
        }
        catch
        {
            owned.ForEach(o => o.Dispose());
            throw;
        }
    }

    public GenerationResult Generate(GenerationRequest request, IProgress<GenerationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        int factor = _vae.Config.DownFactor * (1 << (_base.Unet.Config.BlockOutChannels.Length - 1));
        request.Validate(factor);
        int width = request.Width ?? DefaultSize;
        int height = request.Height ?? DefaultSize;
        if (width % factor != 0 || height % factor != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"width and height must be multiples of {factor} for this pipeline");
        }

        var timings = new List<StageTiming>();
        var total = Stopwatch.StartNew();
        var clock = Stopwatch.StartNew();
        int n = request.Batch;
        (int h, int w, int c) = (height / _vae.Config.DownFactor, width / _vae.Config.DownFactor, _base.Unet.Config.InChannels);
        progress?.Report(new GenerationProgress("text", 0, 1));
        using Conditioning baseConditioning = _base.Condition(request, n, height, width, refiner: false);
        using Conditioning? refinerConditioning = _refiner?.Condition(request, n, height, width, refiner: true);
        timings.Add(new StageTiming("text", clock.Elapsed));

        var generator = new TorchGenerator(request.Seed);
        Scheduler scheduler = SchedulerKind.Create(_base.SchedulerConfig, request.Scheduler);
        scheduler.SetTimesteps(request.Steps);
        float[] initial = generator.Randn(n * c * h * w);
        float sigma = (float)scheduler.InitNoiseSigma;
        float[] nhwc = LatentLayout.NchwToNhwc(initial.Select(v => v * sigma).ToArray(), n, c, h, w);
        using Tensor latents = _backend.FromFloats(nhwc, new Shape(n, h, w, c));

        clock.Restart();
        int baseSteps = _refiner is null || request.DenoisingEnd >= 1 ? scheduler.Timesteps.Length : scheduler.StepsBefore(request.DenoisingEnd);
        int? baseGraph = new Denoiser(_backend, _base.Unet, _options.DType, _options.CaptureSteps)
            .Run("base", scheduler, 0, baseSteps, latents, baseConditioning, generator, progress, cancellationToken);
        timings.Add(new StageTiming("base", clock.Elapsed, baseGraph));

        if (_refiner is not null && refinerConditioning is not null && baseSteps < scheduler.Timesteps.Length)
        {
            clock.Restart();
            Scheduler refinerScheduler = SchedulerKind.Create(_refiner.SchedulerConfig, request.Scheduler);
            refinerScheduler.SetTimesteps(request.Steps);
            int start = refinerScheduler.StartAt(request.DenoisingEnd);
            int? refinerGraph = new Denoiser(_backend, _refiner.Unet, _options.DType, _options.CaptureSteps)
                .Run("refiner", refinerScheduler, start, refinerScheduler.Timesteps.Length, latents, refinerConditioning, generator, progress,
                    cancellationToken);
            timings.Add(new StageTiming("refiner", clock.Elapsed, refinerGraph));
        }

        cancellationToken.ThrowIfCancellationRequested();
        clock.Restart();
        progress?.Report(new GenerationProgress("decode", 0, 1));
        float[] finalLatents = latents.ToFloats();
        using Tensor unscaled = _backend.Scale(latents, (float)(1 / _vae.Config.ScalingFactor));
        using Tensor decoded = _vae.Decode(_backend, unscaled);
        float[] pixels = decoded.ToFloats().Select(v => Math.Clamp((v / 2) + 0.5f, 0f, 1f)).ToArray();
        progress?.Report(new GenerationProgress("decode", 1, 1));
        timings.Add(new StageTiming("decode", clock.Elapsed));
        timings.Add(new StageTiming("total", total.Elapsed));
        return new GenerationResult(ToImages(pixels, n, height, width), pixels, LatentLayout.NhwcToNchw(finalLatents, n, h, w, c), timings);
    }

    public void Dispose()
    {
        _base.Dispose();
        _refiner?.Dispose();
        _vae.Dispose();
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

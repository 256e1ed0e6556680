using System.Text.Json.Serialization;
using Viper.Weights;

namespace Viper.Schedulers;

/// <summary>
/// A diffusers <c>scheduler_config.json</c>: the union of the fields the supported schedulers read, with diffusers'
/// defaults. Options diffusers has but the engine does not implement are rejected by <see cref="Validated"/> rather than
/// ignored. Where the classes' defaults differ (DDIM and DDPM: leading spacing and clip_sample on), a key the file does
/// not state takes the default of the class that runs (<see cref="For"/>), as <c>SomeScheduler.from_config(config)</c> does.
/// </summary>
public sealed record SchedulerConfig
{
    [JsonPropertyName("_class_name")]
    public string ClassName { get; init; } = "EulerDiscreteScheduler";

    public int NumTrainTimesteps { get; init; } = 1000;

    public double BetaStart { get; init; } = 0.0001;

    public double BetaEnd { get; init; } = 0.02;

    public string BetaSchedule { get; init; } = "linear";

    public double[]? TrainedBetas { get; init; }

    public string PredictionType { get; init; } = "epsilon";

    public string TimestepSpacing { get; init; } = "linspace";

    public int StepsOffset { get; init; }

    public bool SetAlphaToOne { get; init; } = true;

    public bool ClipSample { get; init; }

    /// <summary>With <see cref="ClipSample"/>, the predicted x₀ is clamped to ±this (DDIM and DDPM).</summary>
    public double ClipSampleRange { get; init; } = 1.0;

    public bool Thresholding { get; init; }

    public bool RescaleBetasZeroSnr { get; init; }

    public string? VarianceType { get; init; }

    public bool UseKarrasSigmas { get; init; }

    public string AlgorithmType { get; init; } = "dpmsolver++";

    public int SolverOrder { get; init; } = 2;

    public string SolverType { get; init; } = "midpoint";

    public bool LowerOrderFinal { get; init; } = true;

    public bool EulerAtFinal { get; init; }

    public string? FinalSigmasType { get; init; } = "zero";

    public string InterpolationType { get; init; } = "linear";

    public string TimestepType { get; init; } = "discrete";

    /// <summary>
    /// The keys the file stated (null: a config made in code, every value meant as given). <see cref="For"/> replaces
    /// only the class-dependent values of keys missing here, so a value set with <c>with</c> on a loaded config must be
    /// one its file stated.
    /// </summary>
    [JsonIgnore]
    public IReadOnlySet<string>? StatedKeys { get; init; }

    /// <summary>SD1.5's scheduler: DDIM-style scaled-linear betas, leading spacing, steps offset 1.</summary>
    public static SchedulerConfig StableDiffusion { get; } = new()
    {
        ClassName = "PNDMScheduler", BetaStart = 0.00085, BetaEnd = 0.012, BetaSchedule = "scaled_linear",
        TimestepSpacing = "leading", StepsOffset = 1, SetAlphaToOne = false,
    };

    /// <summary>SDXL base/refiner: Euler discrete, scaled-linear betas, leading spacing, steps offset 1.</summary>
    public static SchedulerConfig StableDiffusionXl { get; } = StableDiffusion with { ClassName = "EulerDiscreteScheduler" };

    public static SchedulerConfig Load(string path)
    {
        (SchedulerConfig config, IReadOnlySet<string> keys) = ConfigJson.ReadStated<SchedulerConfig>(path);
        return (config with { StatedKeys = keys }).Validated(path);
    }

    /// <summary>
    /// This config as the diffusers class <paramref name="className"/> reads it: keys the file did not state take that
    /// class's own defaults (diffusers 0.29.2 — scheduling_ddim.py and scheduling_ddpm.py: timestep_spacing "leading",
    /// clip_sample true; the Euler, Euler-ancestral and DPM-Solver classes: "linspace", and no clip_sample at all, so a
    /// stated one does not apply to them).
    /// </summary>
    public SchedulerConfig For(string className)
    {
        bool alphaBar = className is "DDIMScheduler" or "DDPMScheduler";
        return this with
        {
            ClassName = className,
            TimestepSpacing = Stated("timestep_spacing") ? TimestepSpacing : alphaBar ? "leading" : "linspace",
            ClipSample = alphaBar && (Stated("clip_sample") ? ClipSample : true),
        }; // the other keys' defaults are the same in every class, and already the record's
    }

    private bool Stated(string key) => StatedKeys?.Contains(key) ?? true;

    public SchedulerConfig Validated(string source)
    {
        ConfigJson.Require(NumTrainTimesteps > 1, source, $"num_train_timesteps must be above 1, not {NumTrainTimesteps}");
        ConfigJson.Require(BetaSchedule is "linear" or "scaled_linear" or "squaredcos_cap_v2" || TrainedBetas is not null, source,
            $"beta_schedule '{BetaSchedule}' is not supported (linear, scaled_linear, squaredcos_cap_v2)");
        ConfigJson.Require(TrainedBetas is null || TrainedBetas.Length == NumTrainTimesteps, source,
            "trained_betas must have num_train_timesteps entries");
        ConfigJson.Require(PredictionType is "epsilon" or "v_prediction", source,
            $"prediction_type '{PredictionType}' is not supported (epsilon, v_prediction)");
        ConfigJson.Require(TimestepSpacing is "leading" or "trailing" or "linspace", source,
            $"timestep_spacing '{TimestepSpacing}' is not supported (leading, trailing, linspace)");
        ConfigJson.Require(!Thresholding, source,
            "thresholding (dynamic thresholding of x₀, for pixel-space models) is not supported: set it false or remove it");
        ConfigJson.Require(ClipSampleRange > 0 && double.IsFinite(ClipSampleRange), source,
            $"clip_sample_range must be a positive number, not {ClipSampleRange}");
        ConfigJson.Require(!RescaleBetasZeroSnr, source, "rescale_betas_zero_snr is not supported");
        ConfigJson.Require(InterpolationType == "linear" && TimestepType == "discrete", source,
            "only linear sigma interpolation over discrete timesteps is supported");
        return this;
    }
}

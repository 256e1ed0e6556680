namespace Viper.Pipelines;

/// <summary>How the visual preference enters generation.</summary>
public enum ViperForm
{
    /// <summary>
    /// The authors' released code: cond = E(p) + β₊·E(VP+), uncond = E(neg) + β₋·E(VP−), and
    /// eps = eps_u + w·(eps_c + β₊·eps_VP+ − eps_u − β₋·eps_VP−).
    /// </summary>
    Reference,

    /// <summary>The paper: p = E(p) + β·(E(VP+) − E(VP−)) (eq. 1) and ε = (1−w)ε_u + w(ε_p + β(ε_VP+ − ε_VP−)) (eq. 3).</summary>
    Paper,
}

/// <summary>What to do with preference text longer than the text encoder's 77 tokens.</summary>
public enum LongTextMode
{
    /// <summary>Keep the first 75 tokens (the reference form; what diffusers' tokenizer call does).</summary>
    Truncate,

    /// <summary>Encode 75-token windows separately and concatenate them along the sequence.</summary>
    Chunk,
}

/// <summary>One generation. Null sizes and counts take the pipeline's defaults.</summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }

    /// <summary>
    /// The negative prompt. Null (not given): "" is encoded, except that plain generation (no preference, or β = 0) on a
    /// pipeline with SDXL's <c>force_zeros_for_empty_prompt</c> uses zero unconditional embeddings, as diffusers does.
    /// The ViPer forms always encode "" (the authors' pipeline defaults negative_prompt to ""); an explicit "" is always encoded.
    /// </summary>
    public string? NegativePrompt { get; init; }

    public VisualPreference? Preference { get; init; }

    /// <summary>β₊, the weight of the liked attributes (β in the paper form).</summary>
    public float BetaPositive { get; init; } = 0.85f;

    /// <summary>β₋, the weight of the disliked attributes (ignored by the paper form, which uses β₊ for both).</summary>
    public float BetaNegative { get; init; } = 0.85f;

    public ViperForm Form { get; init; } = ViperForm.Reference;

    public LongTextMode LongText { get; init; } = LongTextMode.Truncate;

    /// <summary>
    /// The reference form shuffles the liked and disliked attributes (Python's <c>random.seed(Seed)</c>; the order used
    /// is in <see cref="GenerationResult.LikedText"/>); false keeps the given order.
    /// </summary>
    public bool ShufflePreferences { get; init; } = true;

    /// <summary>Guidance scale w.</summary>
    public float Guidance { get; init; } = 5.0f;

    public int Steps { get; init; } = 40;

    /// <summary>One of <see cref="Viper.Schedulers.SchedulerKind.Names"/>; null: the folder's scheduler_config.json class, as diffusers.</summary>
    public string? Scheduler { get; init; }

    public int? Width { get; init; }

    public int? Height { get; init; }

    public ulong Seed { get; init; }

    /// <summary>
    /// Initial latents instead of noise drawn from <see cref="Seed"/>: standard-normal values in diffusers' NCHW order
    /// (Batch, C, H/f, W/f), scaled by the scheduler's initial σ as diffusers' <c>latents</c> argument is. The seed still
    /// drives the noise of ancestral steps and the preference shuffle.
    /// </summary>
    public float[]? Latents { get; init; }

    /// <summary>Image-to-image: the picture to start from (its size is the output size unless Width/Height say the same).</summary>
    public Viper.Imaging.RgbImage? InitImage { get; init; }

    /// <summary>Image-to-image: how much of the schedule is run, in (0, 1]; int(Steps·Strength) steps (diffusers' strength).</summary>
    public double Strength { get; init; } = 0.8;

    /// <summary>Called after every denoising step (diffusers' callback_on_step_end) with the step and the current latents.</summary>
    public Action<StepState>? OnStepEnd { get; init; }

    public int Batch { get; init; } = 1;

    /// <summary>Fraction of the schedule the base model runs before the refiner takes over (only with a refiner).</summary>
    public double DenoisingEnd { get; init; } = 0.8;

    public float RefinerGuidance { get; init; } = 5.0f;

    public float AestheticScore { get; init; } = 6.0f;

    public float NegativeAestheticScore { get; init; } = 2.5f;

    /// <summary>
    /// Aesthetic gradients (Gallego 2022) for the prompt: its encoder is tuned toward the embedding before encoding
    /// (needs <see cref="PipelineOptions.AestheticClipFolder"/>). Combined with <see cref="Preference"/>, the prompt's
    /// personalized embedding is what ViPer's eq. 1/3 then steer.
    /// </summary>
    public Aesthetic.AestheticSettings? Aesthetic { get; init; }

    /// <summary>
    /// LoRAs merged into the base stage's UNet and text encoders for this request (see <see cref="LoraWeight"/>); the
    /// pipeline swaps them between requests without reloading, and a request without them runs the base model exactly.
    /// </summary>
    public IReadOnlyList<LoraWeight> Loras { get; init; } = [];

    internal void Validate(int sizeMultiple)
    {
        if (string.IsNullOrWhiteSpace(Prompt))
        {
            throw new ArgumentException("the prompt is empty", nameof(Prompt));
        }

        RequireIn(GenerationLimits.Beta, BetaPositive, nameof(BetaPositive));
        RequireIn(GenerationLimits.Beta, BetaNegative, nameof(BetaNegative));
        RequireIn(GenerationLimits.Guidance, Guidance, nameof(Guidance));
        RequireIn(GenerationLimits.Guidance, RefinerGuidance, nameof(RefinerGuidance));
        RequireFinite(AestheticScore, nameof(AestheticScore));
        RequireFinite(NegativeAestheticScore, nameof(NegativeAestheticScore));
        RequireIn(GenerationLimits.Steps, Steps, nameof(Steps));
        RequireIn(GenerationLimits.Batch, Batch, nameof(Batch));
        foreach ((int? size, string name) in new[] { (Width, nameof(Width)), (Height, nameof(Height)) })
        {
            if (size is { } s && (!GenerationLimits.Size.Contains(s) || s % sizeMultiple != 0))
            {
                throw new ArgumentOutOfRangeException(name, s, $"{name.ToLowerInvariant()} must be a multiple of {sizeMultiple} {GenerationLimits.Size}");
            }
        }

        if (!(DenoisingEnd > 0 && DenoisingEnd <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(DenoisingEnd), DenoisingEnd, "denoising end must be in (0, 1]");
        }

        if (!(Strength > 0 && Strength <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Strength), Strength, "strength must be in (0, 1]");
        }

        if (Latents is not null && InitImage is not null)
        {
            throw new ArgumentException("give initial latents or an initial image, not both", nameof(Latents));
        }

        Aesthetic?.Validate();
        foreach (LoraWeight lora in Loras)
        {
            RequireIn(GenerationLimits.LoraWeight, lora.Weight, nameof(Loras));
            if (!File.Exists(lora.Path))
            {
                throw new FileNotFoundException($"LoRA {lora.Path}: the file does not exist", lora.Path);
            }
        }

        if (Latents is not null && Latents.Any(v => !float.IsFinite(v)))
        {
            throw new ArgumentException("the initial latents hold a non-finite value", nameof(Latents));
        }
    }

    private static void RequireIn<T>(Limit<T> limit, T value, string name)
        where T : struct, IComparable<T>, IFormattable
    {
        if (!limit.Contains(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be {limit}");
        }
    }

    private static void RequireFinite(float value, string name)
    {
        if (!float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number");
        }
    }
}

/// <summary>
/// Where a generation is: <paramref name="Stage"/> ("load", "text", "base", "refiner", "decode") and the steps done within
/// it; each stage reports step 0 when it starts and <paramref name="TotalSteps"/> when it ends.
/// </summary>
public readonly record struct GenerationProgress(string Stage, int Step, int TotalSteps)
{
    /// <summary>Whole percent of the stage done (what a progress line or a throttled event stream shows).</summary>
    public int Percent => (int)(100L * Step / Math.Max(1, TotalSteps));
}

/// <summary>A stage's wall time; <paramref name="GraphNodes"/>: the size of the recorded step graph when the stage replayed one.</summary>
public readonly record struct StageTiming(string Stage, TimeSpan Elapsed, int? GraphNodes = null);

/// <summary>
/// The images (8-bit RGB), the decoded pixels in [0, 1] (N, H, W, 3) as diffusers' output_type="np", the final latents
/// in diffusers' NCHW order (before the VAE), and per-stage timings.
/// </summary>
public sealed record GenerationResult(
    IReadOnlyList<Viper.Imaging.RgbImage> Images,
    float[] Pixels,
    float[] Latents,
    IReadOnlyList<StageTiming> Timings)
{
    /// <summary>The sampler that ran (the request's, or the folder's default).</summary>
    public string Scheduler { get; init; } = "";

    /// <summary>With aesthetic gradients: the loss −cos(text, aesthetic embedding) before and after each Adam step.</summary>
    public float[]? AestheticLosses { get; init; }

    /// <summary>SDXL with a bigG embedding: text_encoder_2's losses, as <see cref="AestheticLosses"/>.</summary>
    public float[]? AestheticLossesG { get; init; }

    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>The liked attributes as the text encoders saw them (after the reference form's shuffle); "" without a preference.</summary>
    public string LikedText { get; init; } = "";

    public string DislikedText { get; init; } = "";

    /// <summary>What the caller should know: truncated text, a scheduler fallback.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

using Viper.Models.Unet;
using Viper.Runtime;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>
/// One denoising model with its text encoders and scheduler config: the base, or the SDXL refiner. The text encoders
/// run on <paramref name="backend"/> and the UNet on <paramref name="unetBackend"/> (the same one unless placed apart):
/// the conditioning is stacked where it is encoded, then moved to the UNet's device.
/// </summary>
internal sealed class Stage(IBackend backend, IBackend unetBackend, TextConditioning text, UNet2DConditionModel unet, SchedulerConfig schedulerConfig,
    ModelIndex index) : IDisposable
{
    public UNet2DConditionModel Unet { get; } = unet;

    public SchedulerConfig SchedulerConfig { get; } = schedulerConfig;

    /// <summary>Where the UNet runs (and the stage's latents live).</summary>
    public IBackend UnetBackend { get; } = unetBackend;

    /// <summary>Loads the stage's models, adding them to <paramref name="owned"/> so a later failure of the pipeline's load releases them.</summary>
    public static Stage Load(PipelineSource source, IBackend backend, IBackend unetBackend, PipelineOptions options, List<IDisposable> owned,
        CancellationToken cancellationToken)
    {
        ModelIndex index = source.Index;
        SchedulerConfig config = SchedulerConfig.Load(Path.Combine(index.PathOf("scheduler"), "scheduler_config.json"));
        if (options.Prediction is { } prediction)
        {
            config = config with { PredictionType = prediction };
        }

        TextConditioning text = owned.Added(TextConditioning.Load(source, backend, options, cancellationToken));
        UNet2DConditionModel unet = owned.Added(source.LoadUnet(unetBackend, options, cancellationToken));
        return new Stage(backend, unetBackend, text, unet, config, index);
    }

    public ModelIndex Index { get; } = index;

    /// <summary>The stage's parameters by component (unet, text_encoder, text_encoder_2), for adapters.</summary>
    public IReadOnlyDictionary<string, Viper.Models.Loading.ParameterSet> Parameters =>
        new Dictionary<string, Viper.Models.Loading.ParameterSet>(text.Parameters, StringComparer.Ordinal) { ["unet"] = Unet.Parameters };

    /// <summary>
    /// The liked and disliked attribute texts the base stage encodes, after the reference form's seeded shuffle (the
    /// authors' <c>random.seed(seed); random.shuffle(...)</c>); null when the request is plain generation.
    /// </summary>
    public static (string Liked, string Disliked)? PreferenceTexts(GenerationRequest request)
    {
        VisualPreference? preference = request.Preference;
        bool paper = request.Form == ViperForm.Paper;
        float betaMinus = paper ? request.BetaPositive : request.BetaNegative;
        if (preference is not { IsEmpty: false } || (request.BetaPositive == 0 && betaMinus == 0))
        {
            return null;
        }

        var likes = preference.Likes.ToList();
        var dislikes = preference.Dislikes.ToList();
        if (!paper && request.ShufflePreferences)
        {
            var shuffle = new PythonRandom(request.Seed);
            shuffle.Shuffle(likes);
            shuffle.Shuffle(dislikes);
        }

        return (VisualPreference.Join(likes), VisualPreference.Join(dislikes));
    }

    /// <summary>Texts longer than the encoders' 77-token window, when they would be truncated.</summary>
    public IEnumerable<string> TruncationWarnings(GenerationRequest request)
    {
        if (request.LongText == LongTextMode.Chunk)
        {
            yield break;
        }

        (string Liked, string Disliked)? preference = PreferenceTexts(request);
        var texts = new List<(string What, string Text)> { ("the prompt", request.Prompt), ("the negative prompt", request.NegativePrompt ?? "") };
        if (preference is { } p)
        {
            texts.Add(("the liked attributes (VP+)", p.Liked));
            texts.Add(("the disliked attributes (VP−)", p.Disliked));
        }

        foreach ((string what, string value) in texts)
        {
            if (text.TokensDropped(value) is > 0 and int dropped)
            {
                yield return $"{what}: {dropped} token(s) beyond the text encoder's 75 are dropped; --chunk-long-text (LongTextMode.Chunk) encodes all of it";
            }
        }
    }

    /// <summary>
    /// Encodes the request's texts and stacks them for the UNet, with <paramref name="preference"/> (<see cref="PreferenceTexts"/>)
    /// or null for plain CFG — the refiner's, as in the reference code. SDXL's pooled embeddings come from the prompt and
    /// the negative prompt only.
    /// </summary>
    /// <param name="promptEmbedding">The prompt's personalized conditioning (aesthetic gradients) to use in place of the encoders'.</param>
    public Conditioning Condition(GenerationRequest request, (string Liked, string Disliked)? preference, int batch, int height, int width, bool refiner,
        TextEmbedding? promptEmbedding = null)
    {
        bool paper = request.Form == ViperForm.Paper;
        float betaPlus = request.BetaPositive;
        float betaMinus = paper ? request.BetaPositive : request.BetaNegative;
        bool viper = preference is not null;
        bool zeroNegative = !viper && request.NegativePrompt is null && Index.ForceZerosForEmptyPrompt;
        string[] texts = preference is { } p
            ? [request.Prompt, request.NegativePrompt ?? "", p.Liked, p.Disliked]
            : [request.Prompt, request.NegativePrompt ?? ""];
        int windows = request.LongText == LongTextMode.Chunk ? texts.Max(text.WindowsFor) : 1;
        // A personalized prompt stands in for the prompt's encoding, which is then not computed at all.
        TextEmbedding[] encoded = texts.Select((t, i) => i == 0 && promptEmbedding is not null
            ? new TextEmbedding(promptEmbedding.Context.CopyTo(backend), promptEmbedding.Pooled?.CopyTo(backend))
            : text.Encode(t, request.LongText, windows)).ToArray();
        if (zeroNegative)
        {
            // diffusers' SDXL encode_prompt: negative_prompt_embeds = zeros_like(prompt_embeds), and the pooled likewise.
            encoded[1].Dispose();
            encoded[1] = new TextEmbedding(backend.Allocate(encoded[0].Context.Shape, encoded[0].Context.DType),
                encoded[0].Pooled is { } pooled ? backend.Allocate(pooled.Shape, pooled.DType) : null); // Allocate zero-fills
        }

        try
        {
            return Stack(encoded, viper, paper, betaPlus, betaMinus, batch, height, width, refiner, request).MoveTo(UnetBackend);
        }
        finally
        {
            foreach (TextEmbedding e in encoded)
            {
                e.Dispose();
            }
        }
    }

    /// <summary>Textual-inversion tokens for this stage's tokenizers and encoders (see <see cref="TextConditioning.AddEmbeddings"/>).</summary>
    public void AddEmbeddings(IReadOnlyList<TextualInversion> embeddings) => text.AddEmbeddings(embeddings);

    /// <summary>The stage's tokenizers and text encoders.</summary>
    public TextConditioning Text => text;

    /// <summary>The prompt's padded 77 ids from the (first) tokenizer, what aesthetic gradients personalize.</summary>
    public int[] PromptIds(string prompt) => text.PromptIds(prompt);

    /// <summary>Refuses a CLIP text model that cannot stand in for this stage's text encoder (see <see cref="TextConditioning.CheckPersonalizable"/>).</summary>
    public void CheckPersonalizable(Viper.Models.Clip.ClipTextConfig clip, string clipFolder) => text.CheckPersonalizable(clip, clipFolder);

    public void Dispose()
    {
        text.Dispose();
        Unet.Dispose();
    }

    private Conditioning Stack(TextEmbedding[] e, bool viper, bool paper, float betaPlus, float betaMinus, int batch, int height, int width,
        bool refiner, GenerationRequest request)
    {
        IBackend b = backend;
        (TextEmbedding prompt, TextEmbedding negative) = (e[0], e[1]);
        var groups = new List<(Tensor Context, Tensor? Pooled, bool Positive)>();
        var temporaries = new List<Tensor>();
        try
        {
            if (!viper)
            {
                groups.Add((negative.Context, negative.Pooled, false));
                groups.Add((prompt.Context, prompt.Pooled, true));
            }
            else if (paper)
            {
                Tensor difference = temporaries.Added(Subtract(b, e[2].Context, e[3].Context));
                Tensor cond = temporaries.Added(Axpy(b, prompt.Context, difference, betaPlus));
                groups.Add((negative.Context, negative.Pooled, false));
                groups.Add((cond, prompt.Pooled, true));
                groups.Add((e[2].Context, prompt.Pooled, true));
                groups.Add((e[3].Context, negative.Pooled, false));
            }
            else
            {
                groups.Add((temporaries.Added(Axpy(b, negative.Context, e[3].Context, betaMinus)), negative.Pooled, false));
                groups.Add((temporaries.Added(Axpy(b, prompt.Context, e[2].Context, betaPlus)), prompt.Pooled, true));
                groups.Add((e[2].Context, prompt.Pooled, true));
                groups.Add((e[3].Context, negative.Pooled, false));
            }

            Tensor context = b.Concat(groups.SelectMany(g => Enumerable.Repeat(g.Context, batch)).ToArray(), axis: 0);
            AddedConditions? added = null;
            if (Unet.Config.AdditionEmbedType == "text_time")
            {
                Tensor pooled = b.Concat(groups.SelectMany(g => Enumerable.Repeat(g.Pooled ?? throw MissingPooled(), batch)).ToArray(), axis: 0);
                float[] ids = groups.SelectMany(g => Enumerable.Repeat(TimeIds(height, width, g.Positive, request), batch))
                    .SelectMany(x => x).ToArray();
                added = new AddedConditions(pooled, b.FromFloats(ids, new Shape(groups.Count * batch, ids.Length / (groups.Count * batch))));
            }

            return new Conditioning(context, added, groups.Count, refiner ? request.RefinerGuidance : request.Guidance,
                viper ? betaPlus : 0f, viper ? betaMinus : 0f);
        }
        finally
        {
            temporaries.ForEach(t => t.Dispose());
        }
    }

    // SDXL's add_time_ids: (original h, w, crop top, left, target h, w); the refiner's: (original h, w, crop, aesthetic score).
    private float[] TimeIds(int height, int width, bool positive, GenerationRequest request) =>
        Index.RequiresAestheticsScore
            ? [height, width, 0, 0, positive ? request.AestheticScore : request.NegativeAestheticScore]
            : [height, width, 0, 0, height, width];

    private static Exception MissingPooled() =>
        new Viper.Weights.ModelConfigException("an SDXL-layout UNet needs text_encoder_2 with a projection for the pooled embedding");

    private static Tensor Axpy(IBackend b, Tensor x, Tensor y, float alpha)
    {
        using Tensor scaled = b.Scale(y, alpha);
        return b.Add(x, scaled);
    }

    private static Tensor Subtract(IBackend b, Tensor x, Tensor y) => Axpy(b, x, y, -1f);
}

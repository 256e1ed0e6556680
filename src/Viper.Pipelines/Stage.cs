using Viper.Models.Unet;
using Viper.Runtime;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>One denoising model with its text encoders and scheduler config: the base, or the SDXL refiner.</summary>
internal sealed class Stage(IBackend backend, TextConditioning text, UNet2DConditionModel unet, SchedulerConfig schedulerConfig, bool aesthetics)
    : IDisposable
{
    public UNet2DConditionModel Unet { get; } = unet;

    public SchedulerConfig SchedulerConfig { get; } = schedulerConfig;

    /// <summary>Loads the stage's models, adding them to <paramref name="owned"/> so a later failure of the pipeline's load releases them.</summary>
    public static Stage Load(ModelIndex index, IBackend backend, PipelineOptions options, List<IDisposable> owned)
    {
        SchedulerConfig config = SchedulerConfig.Load(Path.Combine(index.PathOf("scheduler"), "scheduler_config.json"));
        TextConditioning text = owned.Added(TextConditioning.Load(index, backend, options.DType));
        UNet2DConditionModel unet = owned.Added(UNet2DConditionModel.Load(index.PathOf("unet"), backend, options.DType, options.Variant));
        return new Stage(backend, text, unet, config, index.RequiresAestheticsScore);
    }

    /// <summary>
    /// Encodes the request's texts and stacks them for the UNet. The refiner gets plain CFG (no visual preference), as in
    /// the reference code; SDXL's pooled embeddings come from the prompt and the negative prompt only.
    /// </summary>
    public Conditioning Condition(GenerationRequest request, int batch, int height, int width, bool refiner)
    {
        VisualPreference? preference = refiner ? null : request.Preference;
        bool paper = request.Form == ViperForm.Paper;
        float betaPlus = request.BetaPositive;
        float betaMinus = paper ? request.BetaPositive : request.BetaNegative;
        bool viper = preference is { IsEmpty: false } && (betaPlus != 0 || betaMinus != 0);
        string liked = "", disliked = "";
        if (viper)
        {
            var likes = preference!.Likes.ToList();
            var dislikes = preference.Dislikes.ToList();
            if (!paper)
            {
                var shuffle = new PythonRandom(request.Seed);
                shuffle.Shuffle(likes);
                shuffle.Shuffle(dislikes);
            }

            (liked, disliked) = (VisualPreference.Join(likes), VisualPreference.Join(dislikes));
        }

        string[] texts = viper ? [request.Prompt, request.NegativePrompt, liked, disliked] : [request.Prompt, request.NegativePrompt];
        int windows = request.LongText == LongTextMode.Chunk ? texts.Max(text.WindowsFor) : 1;
        TextEmbedding[] encoded = texts.Select(t => text.Encode(t, request.LongText, windows)).ToArray();
        try
        {
            return Stack(encoded, viper, paper, betaPlus, betaMinus, batch, height, width, refiner, request);
        }
        finally
        {
            foreach (TextEmbedding e in encoded)
            {
                e.Dispose();
            }
        }
    }

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
        aesthetics
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

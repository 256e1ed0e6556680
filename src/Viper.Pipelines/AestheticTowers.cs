using Viper.Models.Tokenizers;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>The personalized prompt conditioning of each stage (null: the stage's own) and the losses of each tuned encoder.</summary>
internal sealed class AestheticConditioning(TextEmbedding baseStage, TextEmbedding? refiner, float[] losses, float[]? lossesG) : IDisposable
{
    public TextEmbedding Base { get; } = baseStage;

    public TextEmbedding? Refiner { get; } = refiner;

    public float[] Losses { get; } = losses;

    public float[]? LossesG { get; } = lossesG;

    public void Dispose()
    {
        Base.Dispose();
        Refiner?.Dispose();
    }
}

/// <summary>
/// Aesthetic gradients per text encoder, each toward an image embedding of its <b>own</b> CLIP space: the prompt's
/// text_encoder through a CLIP folder's text model (CLIP ViT-L/14 for SD1.x and SDXL; the folder's tower stands in for
/// the pipeline's, which has no projection) toward <see cref="AestheticSettings.Embedding"/>; SDXL's text_encoder_2 — and the
/// refiner's — through a copy of that OpenCLIP bigG tower with its projection (or a given bigG CLIP folder) toward
/// <see cref="AestheticSettings.EmbeddingG"/>. The states the pipeline uses are taken from the tuned copies —
/// last_hidden_state for SD1.x/2.x, the penultimate hidden states and bigG's projected pooled output for SDXL — and
/// mixed with the untuned ones by the A1111 weight (or slerp). VP±, the negative and the unconditional prompts use the
/// pipeline's own encoders, untuned. The copies are the towers' own, so LoRAs merged into the pipeline never reach them.
/// </summary>
internal sealed class AestheticTowers(AestheticPersonalizer clipL, AestheticPersonalizer? bigG, AestheticPersonalizer? refinerBigG) : IDisposable
{
    public AestheticPersonalizer ClipL { get; } = clipL;

    public static AestheticTowers Load(PipelineOptions options, PipelineSource source, PipelineSource? refinerSource, Stage baseStage, IBackend backend,
        CancellationToken cancellationToken)
    {
        string clipFolder = options.AestheticClipFolder!;
        var owned = new List<IDisposable>();
        try
        {
            AestheticPersonalizer clipL = owned.Added(AestheticPersonalizer.Load(clipFolder, backend, options.DType));
            baseStage.CheckPersonalizable(clipL.Clip.Config, clipFolder);
            AestheticPersonalizer? bigG = null, refinerBigG = null;
            if (source.Index.Has("text_encoder_2"))
            {
                cancellationToken.ThrowIfCancellationRequested();
                bigG = owned.Added(options.AestheticClipGFolder is { } g ? AestheticPersonalizer.Load(g, backend, options.DType)
                    : new AestheticPersonalizer(source.LoadTextEncoder("text_encoder_2", backend, options with { LinearWeights = null }, cancellationToken), source.Path));
            }

            if (refinerSource is not null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                refinerBigG = owned.Added(new AestheticPersonalizer(
                    refinerSource.LoadTextEncoder("text_encoder_2", backend, options with { LinearWeights = null }, cancellationToken), refinerSource.Path));
            }

            return new AestheticTowers(clipL, bigG, refinerBigG);
        }
        catch
        {
            owned.ForEach(o => o.Dispose());
            throw;
        }
    }

    /// <summary>What a caller should know before running <paramref name="settings"/> on this pipeline.</summary>
    public IEnumerable<string> Warnings(AestheticSettings settings)
    {
        if (bigG is not null && settings.EmbeddingG is null && settings.Active)
        {
            yield return "the aesthetic embedding has no OpenCLIP bigG (clip_g) entry: SDXL's text_encoder_2 (and the refiner's) stay untuned; make one with viper aesthetic-embedding --clip-g";
        }
    }

    /// <summary>Personalizes the prompt for the base stage (and the refiner's bigG, when there is a bigG embedding).</summary>
    public AestheticConditioning Personalize(string prompt, AestheticSettings settings, TextConditioning baseText, TextConditioning? refinerText,
        IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        settings.Validate();
        if (settings.EmbeddingG is not null && bigG is null)
        {
            throw new ArgumentException("the aesthetic embedding holds a bigG (clip_g) entry, but this pipeline has no OpenCLIP bigG text encoder (an SDXL model)", nameof(settings));
        }

        float[] losses = [];
        float[]? lossesG = null;
        TextEmbedding baseEmbedding = baseText.EncodeTuned(prompt, settings, (component, tokenizer, ids, penultimate) =>
        {
            AestheticResult? r = component == "text_encoder"
                ? Run(ClipL, ids, settings.Embedding, settings, tokenizer, penultimate, "aesthetic", progress, cancellationToken)
                : settings.EmbeddingG is { } g ? Run(bigG!, ids, g, settings, tokenizer, penultimate, "aesthetic-g", progress, cancellationToken) : null;
            if (r is not null && component == "text_encoder")
            {
                losses = r.Losses;
            }
            else if (r is not null)
            {
                lossesG = r.Losses;
            }

            return r;
        });
        try
        {
            TextEmbedding? refinerEmbedding = refinerText is not null && refinerBigG is not null && settings.EmbeddingG is { } embeddingG
                ? refinerText.EncodeTuned(prompt, settings, (_, tokenizer, ids, penultimate) =>
                    Run(refinerBigG, ids, embeddingG, settings, tokenizer, penultimate, "aesthetic-refiner", progress, cancellationToken))
                : null;
            return new AestheticConditioning(baseEmbedding, refinerEmbedding, losses, lossesG);
        }
        catch
        {
            baseEmbedding.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        ClipL.Dispose();
        bigG?.Dispose();
        refinerBigG?.Dispose();
    }

    private static AestheticResult Run(AestheticPersonalizer tower, int[] ids, float[] embedding, AestheticSettings settings, ClipTokenizer tokenizer, bool penultimate,
        string stage, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken) =>
        tower.Personalize(ids, embedding, settings, tokenizer, penultimate, step => progress?.Report(new GenerationProgress(stage, step, settings.Steps)), cancellationToken);
}

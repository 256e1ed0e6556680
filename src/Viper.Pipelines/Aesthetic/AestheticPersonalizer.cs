using Viper.Models.Clip;
using Viper.Runtime;

namespace Viper.Pipelines.Aesthetic;

/// <summary>
/// A personalized prompt: the loss before and after each step, and after the last the hidden state the pipeline uses
/// (last_hidden_state (1, T, C), or SDXL's penultimate hidden state) and, when asked for, the tuned text_embeds (1, P)
/// (SDXL's pooled conditioning from bigG's projection).
/// </summary>
public sealed record AestheticResult(float[] Losses, Tensor LastHiddenState, Tensor? TextEmbeds = null) : IDisposable
{
    public void Dispose()
    {
        LastHiddenState.Dispose();
        TextEmbeds?.Dispose();
    }
}

/// <summary>
/// Aesthetic gradients over a CLIP model folder (text_model + text_projection, openai/clip-vit-large-patch14's layout):
/// each <see cref="Personalize"/> starts from the folder's weights, takes T Adam steps toward the embedding and returns
/// the tuned encoder's last_hidden_state, which stands in for the prompt's conditioning. The unconditional (empty) prompt
/// is never personalized, as in the released code.
/// </summary>
public sealed class AestheticPersonalizer(ClipTextModel clip, string folder) : IDisposable
{
    public ClipTextModel Clip { get; } = clip;

    /// <summary>The CLIP folder the text model came from.</summary>
    public string Folder { get; } = folder;

    public static AestheticPersonalizer Load(string clipFolder, IBackend backend, DType dtype)
    {
        ClipTextModel clip = ClipTextModel.Load(clipFolder, backend, dtype);
        if (!clip.HasProjection)
        {
            clip.Dispose();
            throw new Viper.Weights.ModelConfigException($"{clipFolder}: no text_projection.weight — aesthetic gradients need a full CLIP folder (text_model.*, text_projection), such as openai/clip-vit-large-patch14");
        }

        return new AestheticPersonalizer(clip, clipFolder);
    }

    /// <summary>Personalizes the prompt's ids (one padded row); <paramref name="onStep"/> hears the steps done (0 first) of <see cref="AestheticSettings.Steps"/>.</summary>
    public AestheticResult Personalize(int[] ids, AestheticSettings settings, Action<int>? onStep = null, CancellationToken cancellationToken = default) =>
        Personalize(ids, settings.Embedding, settings, null, penultimate: false, onStep, cancellationToken);

    /// <summary>
    /// Personalizes the prompt's ids toward <paramref name="embedding"/> (this tower's image space). With
    /// <see cref="AestheticSettings.Text"/> the target is first slerped toward that text's feature (from the untuned tower,
    /// tokenized by <paramref name="tokenizer"/>), as the A1111 extension does. <paramref name="penultimate"/> returns the
    /// second-to-last hidden state and the tuned text_embeds (SDXL) instead of last_hidden_state.
    /// </summary>
    public AestheticResult Personalize(int[] ids, float[] embedding, AestheticSettings settings, Viper.Models.Tokenizers.ClipTokenizer? tokenizer, bool penultimate,
        Action<int>? onStep = null, CancellationToken cancellationToken = default)
    {
        settings.Validate();
        (float[] target, bool normalize) = Target(embedding, settings, tokenizer);
        using var trainer = new AestheticTrainer(Clip, ids, target, settings.LearningRate, cancellationToken, normalize);
        var losses = new List<float> { trainer.Loss };
        onStep?.Invoke(0);
        for (int step = 1; step <= settings.Steps; step++)
        {
            trainer.Step();
            losses.Add(trainer.Loss);
            onStep?.Invoke(step);
        }

        if (!penultimate)
        {
            return new AestheticResult([.. losses], Clip.Backend.Clone(trainer.LastHiddenState));
        }

        using ClipTextOutput tuned = Clip.Encode([ids], HiddenStates.Only(-2), cancellationToken); // before the trainer restores the weights
        return new AestheticResult([.. losses], Clip.Backend.Clone(tuned.HiddenStateFromEnd(2)), Clip.Backend.Clone(tuned.TextEmbeds!));
    }

    /// <summary>
    /// The A1111 extension's target: the normalised images' embedding, or with a text, slerp(images, text feature, angle) —
    /// the feature of the untuned tower for [BOS] text [EOS], or with a negative text the normalised (images − feature) —
    /// used as it comes out (not normalised again).
    /// </summary>
    private (float[] Target, bool Normalize) Target(float[] embedding, AestheticSettings settings, Viper.Models.Tokenizers.ClipTokenizer? tokenizer)
    {
        if (string.IsNullOrWhiteSpace(settings.Text))
        {
            return (embedding, true);
        }

        if (tokenizer is null)
        {
            throw new ArgumentException("an aesthetic text needs the tower's tokenizer", nameof(tokenizer));
        }

        IReadOnlyList<int> body = tokenizer.Encode(settings.Text);
        int[] textIds = [tokenizer.BosId, .. body.Take(tokenizer.MaxLength - 2), tokenizer.EosId];
        float[] feature;
        using (ClipTextOutput output = Clip.Encode([textIds]))
        {
            feature = output.TextEmbeds!.ToFloats();
        }

        float[] images = AestheticTrainer.Normalized(embedding);
        if (settings.TextNegative)
        {
            feature = AestheticTrainer.Normalized(images.Zip(feature, (i, t) => i - t).ToArray());
        }

        return (AestheticSlerp.Vectors(images, feature, settings.SlerpAngle), false);
    }

    public void Dispose() => Clip.Dispose();
}

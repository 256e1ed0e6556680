using Viper.Models.Clip;
using Viper.Runtime;

namespace Viper.Pipelines.Aesthetic;

/// <summary>The method's settings: the embedding, Adam steps T and the learning rate (the released txt2img defaults: T = 10, lr 1e-4).</summary>
public sealed record AestheticSettings(float[] Embedding, int Steps = 10, double LearningRate = 1e-4)
{
    /// <summary>Where the embedding came from (recorded with generated images).</summary>
    public string Source { get; init; } = "";

    public void Validate()
    {
        if (Steps is < 0 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "aesthetic steps must be between 0 and 1000 (the paper suggests 2–20)");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "the aesthetic learning rate must be a positive number");
        }

        if (Embedding.Length == 0 || !Embedding.All(float.IsFinite))
        {
            throw new ArgumentException("the aesthetic embedding is empty or holds a non-finite value", nameof(Embedding));
        }
    }
}

/// <summary>A personalized prompt: the loss before and after each step, and text_model(ids).last_hidden_state (1, T, C) after the last.</summary>
public sealed record AestheticResult(float[] Losses, Tensor LastHiddenState) : IDisposable
{
    public void Dispose() => LastHiddenState.Dispose();
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
    public AestheticResult Personalize(int[] ids, AestheticSettings settings, Action<int>? onStep = null, CancellationToken cancellationToken = default)
    {
        settings.Validate();
        using var trainer = new AestheticTrainer(Clip, ids, settings.Embedding, settings.LearningRate, cancellationToken);
        var losses = new List<float> { trainer.Loss };
        onStep?.Invoke(0);
        for (int step = 1; step <= settings.Steps; step++)
        {
            trainer.Step();
            losses.Add(trainer.Loss);
            onStep?.Invoke(step);
        }

        return new AestheticResult([.. losses], Clip.Backend.Clone(trainer.LastHiddenState));
    }

    public void Dispose() => Clip.Dispose();
}

namespace Viper.Pipelines.Aesthetic;

/// <summary>
/// The method's settings: the embedding(s), Adam steps T and the learning rate (the released txt2img defaults: T = 10,
/// lr 1e-4), and the options of the A1111 extension (aesthetic_clip.py): <see cref="Weight"/> and <see cref="Slerp"/> mix
/// the tuned conditioning with the plain one; <see cref="Text"/>, <see cref="SlerpAngle"/> and <see cref="TextNegative"/>
/// move the target. The defaults are vicgalle's form: weight 1, no slerp, no text.
/// </summary>
/// <param name="Embedding">The CLIP ViT-L/14 image embedding (SD1.x, SDXL's text_encoder; SD2.x: its OpenCLIP-H space).</param>
public sealed record AestheticSettings(float[] Embedding, int Steps = 10, double LearningRate = 1e-4)
{
    /// <summary>Where the embedding came from (recorded with generated images).</summary>
    public string Source { get; init; } = "";

    /// <summary>SDXL: the OpenCLIP ViT-bigG/14 image embedding text_encoder_2 (and the refiner's) is tuned toward; null leaves them as they are.</summary>
    public float[]? EmbeddingG { get; init; }

    /// <summary>z = z·(1 − w) + z_tuned·w (A1111's aesthetic weight; its UI default 0.9). 0 gives the plain conditioning bit for bit.</summary>
    public float Weight { get; init; } = 1f;

    /// <summary>Spherical instead of linear interpolation by <see cref="Weight"/>, as A1111's slerp (per channel, across the tokens).</summary>
    public bool Slerp { get; init; }

    /// <summary>A text whose CLIP text feature the target is slerped toward by <see cref="SlerpAngle"/> (A1111's "aesthetic text for imgs").</summary>
    public string? Text { get; init; }

    /// <summary>How far the target moves from the images' embedding toward <see cref="Text"/>'s feature (0…1, A1111's default 0.1).</summary>
    public float SlerpAngle { get; init; } = 0.1f;

    /// <summary>With <see cref="Text"/>: slerp toward the normalised (images − text) instead, pushing away from the text.</summary>
    public bool TextNegative { get; init; }

    /// <summary>Whether anything changes: T = 0 or weight 0 is the plain conditioning.</summary>
    public bool Active => Steps > 0 && Weight != 0;

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

        if (EmbeddingG is { } g && (g.Length == 0 || !g.All(float.IsFinite)))
        {
            throw new ArgumentException("the bigG aesthetic embedding is empty or holds a non-finite value", nameof(EmbeddingG));
        }

        if (!(Weight is >= 0f and <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Weight), Weight, "the aesthetic weight must be between 0 and 1");
        }

        if (!(SlerpAngle is >= 0f and <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(SlerpAngle), SlerpAngle, "the aesthetic slerp angle must be between 0 and 1");
        }

        if (TextNegative && string.IsNullOrWhiteSpace(Text))
        {
            throw new ArgumentException("a negative aesthetic text needs the text", nameof(TextNegative));
        }
    }
}

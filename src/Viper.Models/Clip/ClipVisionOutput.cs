namespace Viper.Models.Clip;

/// <summary>
/// What the CLIP vision tower returns, as transformers names it: <see cref="LastHiddenState"/> (B, 1 + patches, C), the
/// kept <see cref="HiddenStates"/>, the <see cref="Pooled"/> output (post_layernorm of the class token, (B, C)) and the
/// projected <see cref="ImageEmbeds"/> (B, projection_dim).
/// </summary>
public sealed class ClipVisionOutput(EncoderStates hiddenStates, Tensor pooled, Tensor imageEmbeds) : IDisposable
{
    public Tensor LastHiddenState => HiddenStates.Last;

    public EncoderStates HiddenStates { get; } = hiddenStates;

    public Tensor Pooled { get; } = pooled;

    public Tensor ImageEmbeds { get; } = imageEmbeds;

    public void Dispose()
    {
        HiddenStates.Dispose();
        Pooled.Dispose();
        ImageEmbeds.Dispose();
    }
}

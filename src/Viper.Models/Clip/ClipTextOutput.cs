namespace Viper.Models.Clip;

/// <summary>
/// What a CLIP text encoder returns, as transformers names it: the final-LayerNorm <see cref="LastHiddenState"/> (B, T, C),
/// the kept <see cref="HiddenStates"/> (embeddings = 0; −2 is the penultimate layer SDXL and clip-skip use), the
/// <see cref="Pooled"/> state at each row's EOS (B, C) and, for models with a projection, <see cref="TextEmbeds"/> (B, P).
/// </summary>
public sealed class ClipTextOutput(Tensor lastHiddenState, EncoderStates hiddenStates, Tensor pooled, Tensor? textEmbeds) : IDisposable
{
    public Tensor LastHiddenState { get; } = lastHiddenState;

    public EncoderStates HiddenStates { get; } = hiddenStates;

    public Tensor Pooled { get; } = pooled;

    public Tensor? TextEmbeds { get; } = textEmbeds;

    /// <summary>hidden_states[-k]: 1 is the last layer's output before the final LayerNorm, 2 the penultimate.</summary>
    public Tensor HiddenStateFromEnd(int k) =>
        k >= 1 ? HiddenStates[-k] : throw new ArgumentOutOfRangeException(nameof(k), "hidden_states[-k] needs k ≥ 1");

    public void Dispose()
    {
        LastHiddenState.Dispose();
        HiddenStates.Dispose();
        Pooled.Dispose();
        TextEmbeds?.Dispose();
    }
}

namespace Viper.Models.Clip;

/// <summary>
/// What a CLIP text encoder returns, as transformers names it: the final-LayerNorm <see cref="LastHiddenState"/> (B, T, C),
/// every <see cref="HiddenStates"/> entry (embeddings first; [^2] is the penultimate layer SDXL and clip-skip use),
/// the <see cref="Pooled"/> state at each row's EOS (B, C) and, for models with a projection, <see cref="TextEmbeds"/> (B, P).
/// </summary>
public sealed class ClipTextOutput(Tensor lastHiddenState, IReadOnlyList<Tensor> hiddenStates, Tensor pooled, Tensor? textEmbeds) : IDisposable
{
    public Tensor LastHiddenState { get; } = lastHiddenState;

    public IReadOnlyList<Tensor> HiddenStates { get; } = hiddenStates;

    public Tensor Pooled { get; } = pooled;

    public Tensor? TextEmbeds { get; } = textEmbeds;

    /// <summary>hidden_states[-k]: 1 is the last layer's output before the final LayerNorm, 2 the penultimate.</summary>
    public Tensor HiddenStateFromEnd(int k) =>
        k >= 1 && k <= HiddenStates.Count ? HiddenStates[^k] : throw new ArgumentOutOfRangeException(nameof(k), $"hidden_states has {HiddenStates.Count} entries");

    public void Dispose()
    {
        LastHiddenState.Dispose();
        foreach (Tensor t in HiddenStates)
        {
            t.Dispose();
        }

        Pooled.Dispose();
        TextEmbeds?.Dispose();
    }
}

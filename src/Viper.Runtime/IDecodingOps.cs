namespace Viper.Runtime;

/// <summary>
/// The ops of token-by-token decoding (the language models): the KV cache, rotary positions and greedy selection on the
/// device. Asked for with <see cref="Capabilities.Decoding"/>.
/// </summary>
public interface IDecodingOps
{
    /// <summary>
    /// Writes row b of values (B, Tn, C) into cache (B, Tmax, C) at position positions[b] (I32 (B), in device memory, so a
    /// captured decode step advances by rewriting it); a position that would overflow is a <see cref="TensorValueException"/>.
    /// </summary>
    void KvCacheWrite(Tensor cache, Tensor values, Tensor positions);

    /// <summary>
    /// Rotary position embedding on x (B, T, H·D) in the HF rotate_half convention:
    /// x·cos + rotate_half(x)·sin with angles position·θ^(−2i/D), positions I32 (T) shared by the batch or (B, T) per
    /// batch row (left-padded prompts, sequences at different lengths in one decode batch).
    /// </summary>
    Tensor Rotary(Tensor x, Tensor positions, int headDim, float theta);

    /// <summary>Index of the largest value along the last axis (first on ties) → I32 (…).</summary>
    Tensor Argmax(Tensor x);

    /// <summary>
    /// The largest value minus the second largest along the last axis (≥ 2 long) → F32 (…): how far a greedy pick led the
    /// runner-up (0 when the top is tied). NaN values are ignored (as by <see cref="Argmax"/>'s comparisons).
    /// </summary>
    Tensor TopGap(Tensor x);

    /// <summary>
    /// Logits (B, V) with every token in ids (B, L) penalised once, as transformers' RepetitionPenaltyLogitsProcessor:
    /// a score below zero is multiplied by the penalty, any other divided by it.
    /// </summary>
    Tensor RepetitionPenalty(Tensor logits, Tensor ids, float penalty);
}

using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>
/// What every layer of one forward shares: the new tokens' positions, where they go in the cache, and the masks that
/// follow from that — made once per forward on the host, where the values are born (no device reads to check them).
/// </summary>
public sealed class MistralStep : IDisposable
{
    private MistralStep(int start, int tokens, Tensor positions, Tensor? keyLengths, Tensor? windowBias)
    {
        (Start, Tokens, Positions, KeyLengths, WindowBias) = (start, tokens, positions, keyLengths, windowBias);
    }

    /// <summary>Position of the first new token (the cache length before this forward).</summary>
    public int Start { get; }

    public int Tokens { get; }

    /// <summary>I32 (T): Start … Start + T − 1.</summary>
    public Tensor Positions { get; }

    /// <summary>I32 (B), Start + T each, when the keys are read from the whole cache (one-token decode).</summary>
    public Tensor? KeyLengths { get; }

    /// <summary>f32 (B, 1, T, Start + T): −∞ on keys the sliding window excludes; null when no key is that far back.</summary>
    public Tensor? WindowBias { get; }

    public int KeyCount => Start + Tokens;

    /// <summary>The step that appends <paramref name="tokens"/> tokens after the cache's filled positions.</summary>
    public static MistralStep For(IBackend b, MistralConfig config, MistralKvCache cache, int tokens)
    {
        int start = cache.Length;
        if (tokens < 1 || start + tokens > cache.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens),
                $"{tokens} new tokens after {start} cached positions exceed the cache's capacity of {cache.Capacity}");
        }

        int[] positions = Enumerable.Range(start, tokens).ToArray();
        Tensor? keyLengths = tokens == 1 ? b.FromInts(Enumerable.Repeat(start + 1, cache.Batch).ToArray(), new Shape(cache.Batch)) : null;
        return new MistralStep(start, tokens, b.FromInts(positions, new Shape(tokens)), keyLengths, WindowMask(b, config, cache, start, tokens));
    }

    // transformers 4.42 MistralModel._update_causal_mask: key j is hidden from query position p when j ≤ p − sliding_window.
    private static Tensor? WindowMask(IBackend b, MistralConfig config, MistralKvCache cache, int start, int tokens)
    {
        if (config.SlidingWindow is not { } window || start + tokens - 1 - window < 0)
        {
            return null;
        }

        // One-token decodes read the whole cache (capacity keys, the unfilled ones cut by the key lengths).
        int keys = tokens == 1 ? cache.Capacity : start + tokens;
        float[] bias = new float[cache.Batch * tokens * keys];
        for (int row = 0; row < cache.Batch * tokens; row++)
        {
            int position = start + (row % tokens);
            for (int j = 0; j <= position - window; j++)
            {
                bias[(row * keys) + j] = float.NegativeInfinity;
            }
        }

        return b.FromFloats(bias, new Shape(cache.Batch, 1, tokens, keys));
    }

    public void Dispose()
    {
        Positions.Dispose();
        KeyLengths?.Dispose();
        WindowBias?.Dispose();
    }
}

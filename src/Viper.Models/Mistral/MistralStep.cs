using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>
/// What every layer of one forward shares: the new tokens' positions, where they go in the cache, and the masks that
/// follow from that — made on the host, where the values are born (no device reads to check them). A decode step made
/// by <see cref="Decoding"/> keeps its tensors and is moved on with <see cref="MoveTo"/>, which rewrites them in place,
/// so a decode forward recorded once as a graph replays at every position.
/// </summary>
public sealed class MistralStep : IDisposable
{
    private MistralStep(int start, int tokens, Tensor positions, Tensor cachePositions, Tensor? keyLengths, Tensor? windowBias)
    {
        (Start, Tokens, Positions, CachePositions, KeyLengths, WindowBias) = (start, tokens, positions, cachePositions, keyLengths, windowBias);
    }

    /// <summary>Position of the first new token (the cache length before this forward).</summary>
    public int Start { get; private set; }

    public int Tokens { get; }

    /// <summary>I32 (T): Start … Start + T − 1.</summary>
    public Tensor Positions { get; }

    /// <summary>I32 (B): where each row's new keys and values go in the cache (Start).</summary>
    public Tensor CachePositions { get; }

    /// <summary>I32 (B), Start + T each, when the keys are read from the whole cache (one-token decode).</summary>
    public Tensor? KeyLengths { get; }

    /// <summary>f32 (B, 1, T, keys): −∞ on keys the sliding window excludes; null when no key is that far back.</summary>
    public Tensor? WindowBias { get; }

    public int KeyCount => Start + Tokens;

    /// <summary>The step that appends <paramref name="tokens"/> tokens after the cache's filled positions.</summary>
    public static MistralStep For(IBackend b, MistralConfig config, MistralKvCache cache, int tokens)
    {
        int start = cache.Length;
        CheckRoom(cache, start, tokens);
        Tensor? keyLengths = tokens == 1 ? b.FromInts(Enumerable.Repeat(start + 1, cache.Batch).ToArray(), new Shape(cache.Batch)) : null;
        return new MistralStep(start, tokens, b.FromInts([.. Enumerable.Range(start, tokens)], new Shape(tokens)),
            b.FromInts(Enumerable.Repeat(start, cache.Batch).ToArray(), new Shape(cache.Batch)), keyLengths, WindowMask(b, config, cache, start, tokens));
    }

    /// <summary>
    /// A one-token decode step at the cache's current length whose tensors a graph can keep: null when the sliding window
    /// could reach into the cache (its mask changes shape with the position; such decodes run eagerly).
    /// </summary>
    public static MistralStep? Decoding(IBackend b, MistralConfig config, MistralKvCache cache)
    {
        if (config.SlidingWindow is { } window && cache.Capacity > window)
        {
            return null;
        }

        return For(b, config, cache, 1);
    }

    /// <summary>Rewrites a decode step's tensors for a token at <paramref name="position"/> (host copies into the same memory).</summary>
    public void MoveTo(IGraphCapture device, MistralKvCache cache, int position)
    {
        if (Tokens != 1 || KeyLengths is null || WindowBias is not null)
        {
            throw new InvalidOperationException("only a one-token decode step without a window mask moves");
        }

        CheckRoom(cache, position, 1);
        Start = position;
        device.CopyFromHost(Positions, HostTensors.EncodeInts([position]));
        device.CopyFromHost(CachePositions, HostTensors.EncodeInts([.. Enumerable.Repeat(position, cache.Batch)]));
        device.CopyFromHost(KeyLengths, HostTensors.EncodeInts([.. Enumerable.Repeat(position + 1, cache.Batch)]));
    }

    public void Dispose()
    {
        Positions.Dispose();
        CachePositions.Dispose();
        KeyLengths?.Dispose();
        WindowBias?.Dispose();
    }

    private static void CheckRoom(MistralKvCache cache, int start, int tokens)
    {
        if (tokens < 1 || start + tokens > cache.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens),
                $"{tokens} new tokens after {start} cached positions exceed the cache's capacity of {cache.Capacity}");
        }
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
}

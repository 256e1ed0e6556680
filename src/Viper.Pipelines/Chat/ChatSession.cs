using System.Diagnostics;
using System.Runtime.CompilerServices;
using Viper.Models.Mistral;
using Viper.Models.Tokenizers;
using Viper.Runtime;

namespace Viper.Pipelines.Chat;

/// <summary>
/// A prefilled prompt: its KV cache and the logits after its last token. <see cref="Generate"/> decodes greedily from
/// there; each call rewinds the cache to the prompt, so one prefill serves several continuations.
/// </summary>
public sealed class ChatSession : IDisposable
{
    private readonly Idefics2Chat _chat;
    private readonly MistralKvCache _cache;
    private readonly float[] _promptLogits;
    private GreedyDecoder? _decoder;

    internal ChatSession(Idefics2Chat chat, MistralKvCache cache, IReadOnlyList<int> promptIds, float[] logits, TimeSpan prefill)
    {
        (_chat, _cache, PromptIds, _promptLogits, PrefillTime) = (chat, cache, promptIds, logits, prefill);
    }

    public IReadOnlyList<int> PromptIds { get; }

    /// <summary>Whether decode tokens replay one recorded graph (known after the first decode token).</summary>
    public bool DecodesWithGraph => _decoder?.UsesGraph == true;

    public TimeSpan PrefillTime { get; }

    /// <summary>Tokens generated and the time they took, by the last <see cref="Generate"/>.</summary>
    public (int Tokens, TimeSpan Time) LastDecode { get; private set; }

    /// <summary>The logits after the prompt's last token (vocab), a copy: what a scorer reads.</summary>
    public float[] NextTokenLogits() => (float[])_promptLogits.Clone();

    /// <summary>
    /// Greedy decoding as transformers' generate(do_sample=False): the repetition penalty over the prompt and the tokens
    /// so far, the highest score (first on ties), until an end-of-sequence id of the generation config or
    /// <see cref="ChatOptions.MaxNewTokens"/>; each token is yielded as soon as it is chosen, with the text it adds. The
    /// choice runs on the backend inside the decode step (<see cref="GreedyDecoder"/>): one id comes back per token.
    /// </summary>
    public IEnumerable<GeneratedToken> Generate(ChatOptions options, CancellationToken cancellationToken = default)
    {
        Check(options);
        return Run(options, cancellationToken);
    }

    /// <summary>
    /// <see cref="Generate"/> for async hosts (a UI thread, a request handler): every decode step runs on the thread
    /// pool, so the awaiting caller is never blocked, and tokens arrive as they are chosen. The settings are checked here,
    /// before any step; cancelling either token stops at the next layer. One enumeration at a time per session.
    /// </summary>
    public IAsyncEnumerable<GeneratedToken> GenerateAsync(ChatOptions options, CancellationToken cancellationToken = default)
    {
        Check(options);
        return RunAsync(options, cancellationToken);
    }

    public void Dispose()
    {
        _decoder?.Dispose();
        _cache.Dispose();
    }

    private void Check(ChatOptions options)
    {
        options.Validate();
        if (PromptIds.Count + options.MaxNewTokens > _cache.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"max_new_tokens {options.MaxNewTokens} exceeds the {_cache.Capacity - PromptIds.Count} this session was prefilled for");
        }
    }

    private async IAsyncEnumerable<GeneratedToken> RunAsync(ChatOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using IEnumerator<GeneratedToken> steps = Run(options, cancellationToken).GetEnumerator();
        while (await Task.Run(steps.MoveNext, cancellationToken).ConfigureAwait(false))
        {
            yield return steps.Current;
        }
    }

    private IEnumerable<GeneratedToken> Run(ChatOptions options, CancellationToken cancellationToken)
    {
        _cache.Truncate(PromptIds.Count);
        if (_decoder is not null && _decoder.Penalty != options.RepetitionPenalty)
        {
            _decoder.Dispose(); // its recorded step holds the penalty it was recorded with
            _decoder = null;
        }

        _decoder ??= new GreedyDecoder(_chat.Model, _cache, PromptIds, options.RepetitionPenalty);
        var clock = Stopwatch.StartNew();
        var text = new StreamingDecoder(_chat.Tokenizer);
        (int id, float margin) = _decoder.First(_promptLogits);
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool end = _chat.Generation.EosTokenIds.Contains(id) || step == options.MaxNewTokens - 1;
            string delta = text.Push(id) + (end ? text.Finish() : "");
            LastDecode = (step + 1, clock.Elapsed);
            yield return new GeneratedToken(id, delta, margin, end);
            if (end)
            {
                yield break;
            }

            (id, margin) = _decoder.Next(step + 1, cancellationToken);
        }
    }
}

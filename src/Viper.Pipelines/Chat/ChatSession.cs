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
    private DecodeGraph? _graph;
    private bool _graphTried;

    internal ChatSession(Idefics2Chat chat, MistralKvCache cache, IReadOnlyList<int> promptIds, float[] logits, TimeSpan prefill)
    {
        (_chat, _cache, PromptIds, _promptLogits, PrefillTime) = (chat, cache, promptIds, logits, prefill);
    }

    public IReadOnlyList<int> PromptIds { get; }

    /// <summary>Whether decode tokens replay one recorded graph (known after the first decode token).</summary>
    public bool DecodesWithGraph => _graph is not null;

    public TimeSpan PrefillTime { get; }

    /// <summary>Tokens generated and the time they took, by the last <see cref="Generate"/>.</summary>
    public (int Tokens, TimeSpan Time) LastDecode { get; private set; }

    /// <summary>The logits after the prompt's last token (vocab), a copy: what a scorer reads.</summary>
    public float[] NextTokenLogits() => (float[])_promptLogits.Clone();

    /// <summary>
    /// Greedy decoding as transformers' generate(do_sample=False): the repetition penalty over the prompt and the tokens
    /// so far, the highest score (first on ties), until an end-of-sequence id of the generation config or
    /// <see cref="ChatOptions.MaxNewTokens"/>; each token is yielded as soon as it is chosen, with the text it adds.
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
        _graph?.Dispose();
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
        var clock = Stopwatch.StartNew();
        List<int> sequence = [.. PromptIds];
        var text = new StreamingDecoder(_chat.Tokenizer);
        float[] logits = (float[])_promptLogits.Clone();
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Penalize(logits, sequence, options.RepetitionPenalty);
            (int id, float margin) = Best(logits);
            sequence.Add(id);
            bool end = _chat.Generation.EosTokenIds.Contains(id) || step == options.MaxNewTokens - 1;
            string delta = text.Push(id) + (end ? text.Finish() : "");
            LastDecode = (step + 1, clock.Elapsed);
            yield return new GeneratedToken(id, delta, margin, end);
            if (end)
            {
                yield break;
            }

            logits = NextLogits(id, cancellationToken);
        }
    }

    // On a backend that records graphs (CUDA), decode tokens replay one recorded step; elsewhere the ops run one by one.
    private float[] NextLogits(int id, CancellationToken cancellationToken)
    {
        if (!_graphTried)
        {
            _graphTried = true;
            _graph = DecodeGraph.TryCreate(_chat.Model, _cache);
        }

        if (_graph is not null)
        {
            return _graph.Step(id);
        }

        using Tensor embedded = _chat.Model.Embed([id]);
        using Tensor hidden = _chat.Model.Forward(embedded, _cache, cancellationToken);
        using Tensor logits = _chat.Model.Logits(hidden);
        return logits.ToFloats();
    }

    // transformers RepetitionPenaltyLogitsProcessor: every id present is penalised once, from its original score.
    private static void Penalize(float[] logits, List<int> sequence, float penalty)
    {
        if (penalty == 1f)
        {
            return;
        }

        foreach (int id in sequence.Distinct())
        {
            float score = logits[id];
            logits[id] = score < 0 ? score * penalty : score / penalty;
        }
    }

    private static (int Id, float Margin) Best(float[] logits)
    {
        int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
        float runnerUp = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            if (i != best && logits[i] > runnerUp)
            {
                runnerUp = logits[i];
            }
        }

        return (best, logits[best] - runnerUp);
    }
}

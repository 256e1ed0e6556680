using Viper.Models.Idefics2;
using Viper.Models.Mistral;
using Viper.Runtime;

namespace Viper.Pipelines.Chat;

/// <summary>
/// Greedy decoding on the device, as transformers' generate(do_sample=False) chooses: the logits (cast to f32) get the
/// repetition penalty over every id so far (<see cref="IBackend.RepetitionPenalty"/>, each id once from its original score),
/// the highest score wins (<see cref="IBackend.Argmax"/>, first on ties) and its lead over the runner-up is kept
/// (<see cref="IBackend.TopGap"/>). The chosen id is written into the device's id sequence and into the next step's input, so
/// a decode step downloads one id and its margin (8 bytes), not the vocabulary's logits. On a backend that records graphs
/// (CUDA) the whole step — embedding, decoder layers with their cache writes, norm, head and the choice — is recorded
/// once and replayed per token; elsewhere the same ops run one by one.
/// </summary>
internal sealed class GreedyDecoder : IDisposable
{
    private readonly Idefics2ForConditionalGeneration _model;
    private readonly MistralKvCache _cache;
    private readonly Tensor _sequence; // I32 (1, capacity, 1): the prompt's ids, then the chosen ones; free slots repeat the prompt's first id
    private readonly Tensor _writeAt;  // I32 (1): where the next chosen id goes in _sequence
    private readonly Tensor _id;       // I32 (1, 1): the last chosen id, the next step's input
    private readonly int[] _prompt;
    private ICapturedWork? _graph;
    private MistralStep? _step;
    private (Tensor Id, Tensor Gap)? _recorded;
    private bool _graphTried;

    public GreedyDecoder(Idefics2ForConditionalGeneration model, MistralKvCache cache, IReadOnlyList<int> prompt, float penalty)
    {
        (_model, _cache, _prompt, Penalty) = (model, cache, [.. prompt], penalty);
        IBackend b = model.Backend;
        _sequence = b.FromInts(SequenceStart(), new Shape(1, cache.Capacity, 1));
        _writeAt = b.FromInts([_prompt.Length], new Shape(1));
        _id = b.FromInts([0], new Shape(1, 1));
    }

    public float Penalty { get; }

    /// <summary>Whether decode steps replay one recorded graph (known after the first <see cref="Next"/>).</summary>
    public bool UsesGraph => _graph is not null;

    /// <summary>Starts a continuation from the prompt: the id sequence back to the prompt alone, then the first choice from its logits.</summary>
    public (int Id, float Margin) First(float[] promptLogits)
    {
        IBackend b = _model.Backend;
        Write(_sequence, SequenceStart());
        Write(_writeAt, [_prompt.Length]);
        using Tensor logits = b.FromFloats(promptLogits, new Shape(1, promptLogits.Length));
        (Tensor id, Tensor gap) = Choose(logits);
        using (id)
        using (gap)
        {
            return Download(id, gap);
        }
    }

    /// <summary>Decodes the last chosen id at the cache's current length and chooses the next one; <paramref name="generated"/> ids are chosen so far.</summary>
    public (int Id, float Margin) Next(int generated, CancellationToken cancellationToken)
    {
        if (!_graphTried)
        {
            _graphTried = true;
            Record();
        }

        int position = _cache.Length;
        if (_graph is not null)
        {
            _step!.MoveTo((IGraphCapture)_model.Backend, _cache, position);
            Write(_writeAt, [_prompt.Length + generated]);
            _graph.Replay();
            _cache.Advance(1);
            return Download(_recorded!.Value.Id, _recorded.Value.Gap);
        }

        Write(_writeAt, [_prompt.Length + generated]);
        using Tensor embedded = _model.Embed(_id);
        using Tensor hidden = _model.Forward(embedded, _cache, cancellationToken);
        using Tensor logits = _model.Logits(hidden);
        (Tensor id, Tensor gap) = Choose(logits.Reshape(1, logits.Shape.Last));
        using (id)
        using (gap)
        {
            return Download(id, gap);
        }
    }

    public void Dispose()
    {
        _graph?.Dispose(); // owns the memory of the tensors recorded inside it, the chosen id and gap among them
        _step?.Dispose();
        _sequence.Dispose();
        _writeAt.Dispose();
        _id.Dispose();
    }

    // The ids the penalty sees: the prompt, and in every slot not yet chosen the prompt's first id again (penalised once either way).
    private int[] SequenceStart()
    {
        int[] ids = new int[_cache.Capacity];
        Array.Fill(ids, _prompt[0]);
        _prompt.CopyTo(ids, 0);
        return ids;
    }

    private (Tensor Id, Tensor Gap) Choose(Tensor logits)
    {
        IBackend b = _model.Backend;
        using Tensor? widened = logits.DType == DType.F32 ? null : b.Cast(logits, DType.F32);
        Tensor scores = widened ?? logits;
        using Tensor? penalized = Penalty == 1f ? null : b.Decoding().RepetitionPenalty(scores, _sequence.Reshape(1, _sequence.Shape[1]), Penalty);
        scores = penalized ?? scores;
        Tensor id = b.Decoding().Argmax(scores);
        Tensor gap = b.Decoding().TopGap(scores);
        b.Decoding().KvCacheWrite(_sequence, id.Reshape(1, 1, 1), _writeAt);
        b.CopyInto(id.Reshape(1, 1), _id);
        return (id, gap);
    }

    // A graph needs a backend that records and a decode step whose tensors it can keep (no sliding-window mask).
    private void Record()
    {
        if (_model.Backend is not IGraphCapture device || MistralStep.Decoding(_model.Backend, _model.Config.Text, _cache) is not { } step)
        {
            return;
        }

        _step = step;
        _graph = device.Capture(() =>
        {
            using Tensor embedded = _model.Embed(_id);
            using Tensor hidden = _model.Forward(embedded, _cache, step);
            using Tensor logits = _model.Logits(hidden);
            _recorded = Choose(logits.Reshape(1, logits.Shape.Last));
        });
    }

    private void Write(Tensor destination, int[] values)
    {
        if (_model.Backend is IGraphCapture device)
        {
            device.CopyFromHost(destination, HostTensors.EncodeInts(values));
            return;
        }

        using Tensor source = _model.Backend.FromInts(values, destination.Shape);
        _model.Backend.CopyInto(source, destination);
    }

    private static (int Id, float Margin) Download(Tensor id, Tensor gap) => (id.ToInts()[0], gap.ToFloats()[0]);
}

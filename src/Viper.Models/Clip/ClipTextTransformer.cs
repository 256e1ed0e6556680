using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPTextTransformer (<c>text_model</c>): embeddings, causal encoder, final LayerNorm, EOS pooling.</summary>
public sealed class ClipTextTransformer : Module
{
    private readonly ClipTextConfig _config;
    private readonly ClipTextEmbeddings _embeddings;
    private readonly ClipEncoder _encoder;
    private readonly LayerNorm _finalLayerNorm;

    public ClipTextTransformer(WeightScope scope, ClipTextConfig config)
    {
        _config = config;
        _embeddings = Own(new ClipTextEmbeddings(scope["embeddings"], config));
        _encoder = Own(new ClipEncoder(scope["encoder"], config.NumHiddenLayers, config.HiddenSize, config.IntermediateSize,
            config.NumAttentionHeads, ClipActivations.Parse(config.HiddenAct, "text config"), config.LayerNormEps, causal: true));
        _finalLayerNorm = Own(new LayerNorm(scope["final_layer_norm"], config.HiddenSize, config.LayerNormEps));
    }

    public ClipTextConfig Config => _config;

    /// <summary>ids (B rows of equal length ≤ max_position_embeddings) → states; the projection is the caller's.</summary>
    public ClipTextOutput Forward(IBackend b, IReadOnlyList<int[]> ids, HiddenStates keep, CancellationToken cancellationToken = default)
    {
        (int batch, int length) = CheckIds(ids);
        using Tensor idTensor = b.FromInts(ids.SelectMany(r => r).ToArray(), new Shape(batch, length));
        keep.Validate(_encoder.LayerCount + 1);
        EncoderStates states = _encoder.Forward(b, _embeddings.Forward(b, idTensor), keep, cancellationToken);
        Tensor last = _finalLayerNorm.Forward(b, states.Last);
        using Tensor rows = PoolingRows(b, ids);
        Tensor pooled = b.Embedding(last.Reshape(batch * length, _config.HiddenSize), rows);
        return new ClipTextOutput(last, states, pooled, null);
    }

    /// <summary>The token table's checkpoint name and the table itself (vocab, C), for training its rows.</summary>
    public ClipTextEmbeddings Embeddings => _embeddings;

    /// <summary>
    /// <see cref="Forward"/> keeping every activation <see cref="Backward"/> needs, the token rows taken from
    /// <paramref name="tokens"/> (the rows of the distinct ids the prompt uses; see <see cref="TokenRows"/>). The same
    /// ops in the same order as the inference forward, so its last_hidden_state is the one inference gives.
    /// </summary>
    public TrainingPass ForwardForTraining(IBackend b, IReadOnlyList<int[]> ids, TokenRows tokens, CancellationToken cancellationToken = default)
    {
        (int batch, int length) = CheckIds(ids);
        var slotOf = new Dictionary<int, int>();
        for (int i = 0; i < tokens.Ids.Length; i++)
        {
            slotOf[tokens.Ids[i]] = i;
        }

        int[] slots = ids.SelectMany(r => r).Select(id => slotOf.TryGetValue(id, out int s) ? s
            : throw new ArgumentException($"CLIP text: id {id} has no trained token row", nameof(tokens))).ToArray();
        var pass = new TrainingPass { Slots = b.FromInts(slots, new Shape(batch, length)), TokenRowCount = tokens.Ids.Length };
        try
        {
            pass.Embeddings = _embeddings.ForwardForTraining(b, tokens.Rows, pass.Slots);
            pass.EncoderOutput = _encoder.ForwardForTraining(b, pass.Embeddings, out ClipEncoder.Saved encoder, cancellationToken);
            pass.Encoder = encoder;
            pass.LastHiddenState = _finalLayerNorm.Forward(b, pass.EncoderOutput);
            pass.PoolingRows = PoolingRows(b, ids);
            using Tensor flat = pass.LastHiddenState.Reshape(batch * length, _config.HiddenSize);
            pass.Pooled = b.Embedding(flat, pass.PoolingRows);
            return pass;
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>Gradients of every text-model parameter from dPooled (B, C), the gradient of the pooled output.</summary>
    public void Backward(IBackend b, TrainingPass pass, Tensor dPooled, Gradients grads, CancellationToken cancellationToken = default)
    {
        Shape states = pass.LastHiddenState.Shape;
        using Tensor dFlat = b.Training().EmbeddingBackward(dPooled, pass.PoolingRows, states[0] * states[1]); // the pooled-row gather, scattered back
        using Tensor dLast = dFlat.Reshape(states.ToArray());
        using Tensor dEncoderOutput = _finalLayerNorm.Backward(b, pass.EncoderOutput, dLast, grads);
        using Tensor dEmbeddings = _encoder.Backward(b, pass.Encoder!, dEncoderOutput, grads, cancellationToken);
        _embeddings.Backward(b, pass.Slots, pass.TokenRowCount, dEmbeddings, grads);
    }

    private (int Batch, int Length) CheckIds(IReadOnlyList<int[]> ids)
    {
        int batch = ids.Count, length = batch == 0 ? 0 : ids[0].Length;
        if (batch == 0 || length == 0 || length > _config.MaxPositionEmbeddings || ids.Any(r => r.Length != length))
        {
            throw new ArgumentException($"CLIP text: ids must be one or more rows of one length in 1…{_config.MaxPositionEmbeddings}", nameof(ids));
        }

        int tokens = _embeddings.TokenCount;
        TensorValueException.ThrowIfOutside(ids.SelectMany(r => r).ToArray(), 0, tokens - 1,
            id => TensorValueException.EmbeddingId(id, tokens)); // host-born: checked here
        return (batch, length);
    }

    /// <summary>Row b·T + pooling position of each row in the flattened (B·T, C) states.</summary>
    private Tensor PoolingRows(IBackend b, IReadOnlyList<int[]> ids) =>
        b.FromInts(ids.Select((r, i) => (i * r.Length) + PoolingPosition(r)).ToArray(), new Shape(ids.Count));

    /// <summary>transformers 4.42: with the legacy eos_token_id 2, the argmax of the ids (first on ties); else the first EOS.</summary>
    private int PoolingPosition(int[] row)
    {
        if (_config.EosTokenId == 2)
        {
            int best = 0;
            for (int i = 1; i < row.Length; i++)
            {
                best = row[i] > row[best] ? i : best;
            }

            return best;
        }

        int eos = Array.IndexOf(row, _config.EosTokenId);
        return eos >= 0 ? eos : throw new ArgumentException($"CLIP text: a row has no EOS id {_config.EosTokenId} to pool at", nameof(row));
    }
}

/// <summary>
/// The rows of <c>text_model.embeddings.token_embedding.weight</c> for the distinct ids a prompt uses, trained in place of
/// the whole table: every other row gets a zero gradient, and Adam moves a parameter whose gradients are all zero by
/// exactly nothing (m = v = 0, update 0 / (0 + eps)), so leaving them out changes no value.
/// </summary>
public sealed record TokenRows(int[] Ids, Tensor Rows);

/// <summary>What <see cref="ClipTextTransformer.ForwardForTraining"/> kept; owns all of it.</summary>
public sealed class TrainingPass : IDisposable
{
    public required Tensor Slots { get; init; }

    public required int TokenRowCount { get; init; }

    public Tensor Embeddings { get; internal set; } = null!;

    public ClipEncoder.Saved? Encoder { get; internal set; }

    public Tensor EncoderOutput { get; internal set; } = null!;

    /// <summary>The final LayerNorm's output (B, T, C): the conditioning Stable Diffusion takes.</summary>
    public Tensor LastHiddenState { get; internal set; } = null!;

    public Tensor PoolingRows { get; internal set; } = null!;

    /// <summary>The EOS-pooled states (B, C).</summary>
    public Tensor Pooled { get; internal set; } = null!;

    public void Dispose()
    {
        Encoder?.Dispose();
        foreach (Tensor? t in new[] { Slots, Embeddings, EncoderOutput, LastHiddenState, PoolingRows, Pooled })
        {
            t?.Dispose();
        }
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
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
        int batch = ids.Count, length = batch == 0 ? 0 : ids[0].Length;
        if (batch == 0 || length == 0 || length > _config.MaxPositionEmbeddings || ids.Any(r => r.Length != length))
        {
            throw new ArgumentException($"CLIP text: ids must be one or more rows of one length in 1…{_config.MaxPositionEmbeddings}", nameof(ids));
        }

        int[] flat = ids.SelectMany(r => r).ToArray();
        TensorValueException.ThrowIfOutside(flat, 0, _config.VocabSize - 1, id => TensorValueException.EmbeddingId(id, _config.VocabSize)); // host-born: checked here
        using Tensor idTensor = b.FromInts(flat, new Shape(batch, length));
        keep.Validate(_encoder.LayerCount + 1);
        EncoderStates states = _encoder.Forward(b, _embeddings.Forward(b, idTensor), keep, cancellationToken);
        Tensor last = _finalLayerNorm.Forward(b, states.Last);
        using Tensor rows = b.FromInts(ids.Select((r, i) => (i * length) + PoolingPosition(r)).ToArray(), new Shape(batch));
        Tensor pooled = b.Embedding(last.Reshape(batch * length, _config.HiddenSize), rows);
        return new ClipTextOutput(last, states, pooled, null);
    }

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

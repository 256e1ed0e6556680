using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPTextEmbeddings (<c>embeddings</c>): token embedding + learned position embedding.</summary>
public sealed class ClipTextEmbeddings : Module
{
    private readonly Tensor _tokens;
    private readonly Tensor _positions;

    public ClipTextEmbeddings(WeightScope scope, ClipTextConfig config)
    {
        _tokens = Own(scope["token_embedding"].Tensor("weight", config.VocabSize, config.HiddenSize));
        _positions = Own(scope["position_embedding"].Tensor("weight", config.MaxPositionEmbeddings, config.HiddenSize));
        TokenWeightName = scope["token_embedding"]["weight"].Prefix;
        _positionWeightName = scope["position_embedding"]["weight"].Prefix;
    }

    private readonly string _positionWeightName;

    /// <summary>The token table's checkpoint name (<c>text_model.embeddings.token_embedding.weight</c>).</summary>
    public string TokenWeightName { get; }

    /// <summary>The token table, (vocab, C).</summary>
    public Tensor TokenTable => _tokens;

    /// <summary>ids I32 (B, T) → (B, T, C); positions 0…T−1.</summary>
    public Tensor Forward(IBackend b, Tensor ids) => Embed(b, _tokens, ids);

    /// <summary>
    /// <see cref="Forward"/> with the token rows taken from <paramref name="tokenRows"/> (U, C) at <paramref name="slots"/>
    /// (B, T) instead of the whole table: training touches only the rows of the ids a prompt uses.
    /// </summary>
    public Tensor ForwardForTraining(IBackend b, Tensor tokenRows, Tensor slots) => Embed(b, tokenRows, slots);

    /// <summary>Rows of <paramref name="table"/> at <paramref name="ids"/> (B, T) plus the positions 0…T−1.</summary>
    private Tensor Embed(IBackend b, Tensor table, Tensor ids)
    {
        int length = ids.Shape[1];
        using Tensor positionIds = b.FromInts(Enumerable.Range(0, length).ToArray(), new Shape(length));
        using Tensor tokens = b.Embedding(table, ids);
        using Tensor positions = b.Embedding(_positions, positionIds);
        return b.Add(tokens, positions);
    }

    /// <summary>
    /// The gradient of the embeddings (B, T, C) into the token rows (under <see cref="TokenWeightName"/>, shaped like
    /// the rows the forward used) and the position table.
    /// </summary>
    public void Backward(IBackend b, Tensor slots, int tokenRowCount, Tensor dOut, Gradients grads)
    {
        if (grads.Wants(TokenWeightName))
        {
            grads.Add(TokenWeightName, b.EmbeddingBackward(dOut, slots, tokenRowCount));
        }

        if (grads.Wants(_positionWeightName))
        {
            int batch = slots.Shape[0], length = slots.Shape[1];
            using Tensor positionIds = b.FromInts(Enumerable.Range(0, batch * length).Select(i => i % length).ToArray(), slots.Shape);
            grads.Add(_positionWeightName, b.EmbeddingBackward(dOut, positionIds, _positions.Shape[0]));
        }
    }
}

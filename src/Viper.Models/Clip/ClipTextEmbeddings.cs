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

    // The checkpoint's table with textual-inversion rows appended (null until tokens are added); the parameter stays the checkpoint's.
    private Tensor? _extended;

    /// <summary>The token table, (vocab + added tokens, C).</summary>
    public Tensor TokenTable => _extended ?? _tokens;

    /// <summary>The ids the table holds: the vocabulary and any added tokens.</summary>
    public int TokenCount => TokenTable.Shape[0];

    /// <summary>
    /// Appends <paramref name="rows"/> (n, C) after the last id (textual-inversion vectors for added tokens, as transformers'
    /// <c>resize_token_embeddings</c> then a row write); the checkpoint's rows and parameter are untouched.
    /// </summary>
    public void AddTokenRows(Tensor rows)
    {
        IBackend b = _tokens.Backend;
        if (rows.Shape.Rank != 2 || rows.Shape[1] != _tokens.Shape[1])
        {
            throw new ArgumentException($"token rows must be (n, {_tokens.Shape[1]}), not {rows.Shape}", nameof(rows));
        }

        using Tensor cast = b.Cast(rows, _tokens.DType);
        Tensor extended = Own(b.Concat([TokenTable, cast], axis: 0));
        _extended?.Dispose();
        _extended = extended;
    }

    /// <summary>ids I32 (B, T) → (B, T, C); positions 0…T−1.</summary>
    public Tensor Forward(IBackend b, Tensor ids) => Embed(b, TokenTable, ids);

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
            grads.Add(TokenWeightName, b.Training().EmbeddingBackward(dOut, slots, tokenRowCount));
        }

        if (grads.Wants(_positionWeightName))
        {
            int batch = slots.Shape[0], length = slots.Shape[1];
            using Tensor positionIds = b.FromInts(Enumerable.Range(0, batch * length).Select(i => i % length).ToArray(), slots.Shape);
            grads.Add(_positionWeightName, b.Training().EmbeddingBackward(dOut, positionIds, _positions.Shape[0]));
        }
    }
}

using Viper.Models.Layers;
using Viper.Models.Loading;
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
    }

    /// <summary>ids I32 (B, T) → (B, T, C); positions 0…T−1.</summary>
    public Tensor Forward(IBackend b, Tensor ids)
    {
        int length = ids.Shape[1];
        using Tensor positionIds = b.FromInts(Enumerable.Range(0, length).ToArray(), new Shape(length));
        using Tensor tokens = b.Embedding(_tokens, ids);
        using Tensor positions = b.Embedding(_positions, positionIds);
        return b.Add(tokens, positions);
    }
}

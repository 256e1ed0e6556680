using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Mistral;

/// <summary>
/// MistralModel (<c>model.text_model</c> in IDEFICS2, <c>model</c> in MistralForCausalLM): token embeddings, the decoder
/// layers, the final norm. <see cref="Forward"/> takes input embeddings, so a caller can splice in image features.
/// </summary>
public sealed class MistralModel : Module
{
    private readonly Tensor _embedTokens;
    private readonly MistralDecoderLayer[] _layers;
    private readonly RmsNorm _norm;

    public MistralModel(WeightScope scope, MistralConfig config)
    {
        Config = config;
        _embedTokens = Own(scope["embed_tokens"].Tensor("weight", config.VocabSize, config.HiddenSize));
        _layers = new MistralDecoderLayer[config.NumHiddenLayers];
        for (int i = 0; i < _layers.Length; i++)
        {
            _layers[i] = Own(new MistralDecoderLayer(scope["layers"][i], config));
        }

        _norm = Own(new RmsNorm(scope["norm"], config.HiddenSize, config.RmsNormEps));
    }

    public MistralConfig Config { get; }

    /// <summary>ids (B, T) I32/I64 → embeddings (B, T, C).</summary>
    public Tensor Embed(IBackend b, Tensor ids) => b.Embedding(_embedTokens, ids);

    /// <summary>
    /// Runs embeddings (B, T, C) of T new tokens after the cache's filled positions, appends their keys and values, and
    /// returns the final-norm hidden states (B, T, C).
    /// </summary>
    public Tensor Forward(IBackend b, Tensor embeddings, MistralKvCache cache, CancellationToken cancellationToken = default)
    {
        Check(embeddings, cache);
        using MistralStep step = MistralStep.For(b, Config, cache, embeddings.Shape[1]);
        Tensor hidden = Run(b, embeddings, cache, step, cancellationToken);
        cache.Advance(step.Tokens);
        return hidden;
    }

    /// <summary>
    /// Runs embeddings (B, 1, C) of one token at <paramref name="step"/>'s position with a caller-owned step (a decode
    /// step a graph records once and replays after <see cref="MistralStep.MoveTo"/>); the caller sets the cache's length.
    /// </summary>
    public Tensor Forward(IBackend b, Tensor embeddings, MistralKvCache cache, MistralStep step)
    {
        Check(embeddings, cache);
        return Run(b, embeddings, cache, step, CancellationToken.None);
    }

    private void Check(Tensor embeddings, MistralKvCache cache)
    {
        if (embeddings.Shape.Rank != 3 || embeddings.Shape[0] != cache.Batch || embeddings.Shape[2] != Config.HiddenSize)
        {
            throw new ArgumentException($"mistral: embeddings {embeddings.Shape} do not fit a batch-{cache.Batch} cache of width {Config.HiddenSize}");
        }
    }

    private Tensor Run(IBackend b, Tensor embeddings, MistralKvCache cache, MistralStep step, CancellationToken cancellationToken)
    {
        Tensor x = embeddings;
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Tensor next = _layers[i].Forward(b, x, step, cache.Keys(i), cache.Values(i));
            if (!ReferenceEquals(x, embeddings))
            {
                x.Dispose();
            }

            x = next;
        }

        using (x)
        {
            return _norm.Forward(b, x);
        }
    }
}

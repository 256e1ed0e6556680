using Viper.Models.Clip;
using Viper.Models.Tokenizers;
using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>Encoded texts: the UNet context (B, S, D) and, for SDXL layouts, the pooled projection (B, 1280).</summary>
public sealed class TextEmbedding(Tensor context, Tensor? pooled) : IDisposable
{
    public Tensor Context { get; } = context;

    public Tensor? Pooled { get; } = pooled;

    public void Dispose()
    {
        Context.Dispose();
        Pooled?.Dispose();
    }
}

/// <summary>
/// A pipeline's tokenizers and text encoders, encoding as diffusers' pipelines do: SD1.x/2.x take text_encoder's last
/// hidden state; SDXL concatenates both encoders' penultimate hidden states (768 + 1280 = 2048) and pools with
/// text_encoder_2's projection; the refiner has only text_encoder_2.
/// </summary>
public sealed class TextConditioning : IDisposable
{
    private readonly List<(ClipTokenizer Tokenizer, ClipTextModel Encoder)> _encoders;
    private readonly bool _penultimate;
    private readonly IBackend _backend;

    private readonly string[] _components;

    /// <param name="components">The encoders' component names (default: text_encoder, then text_encoder_2).</param>
    public TextConditioning(IBackend backend, IReadOnlyList<(ClipTokenizer, ClipTextModel)> encoders, bool penultimate, IReadOnlyList<string>? components = null)
    {
        _backend = backend;
        _encoders = [.. encoders];
        _penultimate = penultimate;
        _components = components?.ToArray() ?? new[] { "text_encoder", "text_encoder_2" }[..encoders.Count];
    }

    /// <summary>Each text encoder's parameters by component name (text_encoder, text_encoder_2), for adapters.</summary>
    public IReadOnlyDictionary<string, Viper.Models.Loading.ParameterSet> Parameters =>
        _components.Zip(_encoders).ToDictionary(p => p.First, p => p.Second.Encoder.Parameters, StringComparer.Ordinal);

    /// <summary>Loads tokenizer/text_encoder and tokenizer_2/text_encoder_2, whichever the pipeline has.</summary>
    public static TextConditioning Load(PipelineSource source, IBackend backend, PipelineOptions options, CancellationToken cancellationToken = default)
    {
        ModelIndex index = source.Index;
        var encoders = new List<(ClipTokenizer, ClipTextModel)>();
        var components = new List<string>();
        try
        {
            foreach ((string tokenizer, string encoder) in new[] { ("tokenizer", "text_encoder"), ("tokenizer_2", "text_encoder_2") })
            {
                if (index.Has(encoder))
                {
                    ClipTokenizer loadedTokenizer = ClipTokenizer.Load(index.PathOf(tokenizer));
                    encoders.Add((loadedTokenizer, source.LoadTextEncoder(encoder, backend, options, cancellationToken)));
                    components.Add(encoder);
                }
            }
        }
        catch
        {
            encoders.ForEach(e => e.Item2.Dispose());
            throw;
        }

        if (encoders.Count == 0)
        {
            throw new Viper.Weights.ModelConfigException($"{index.Folder}: the pipeline has no text encoder");
        }

        bool xl = index.Has("text_encoder_2");
        return new TextConditioning(backend, encoders, penultimate: xl, components);
    }

    /// <summary>
    /// Adds textual-inversion tokens to every tokenizer and their vectors to the matching encoder's token table: CLIP-L
    /// vectors (A1111's single tensor, SDXL's <c>clip_l</c>) to text_encoder, <c>clip_g</c> to text_encoder_2. An embedding
    /// of n vectors adds "token", "token_1" … "token_{n−1}" (diffusers' load_textual_inversion), expanded in prompts.
    /// </summary>
    public void AddEmbeddings(IReadOnlyList<TextualInversion> embeddings)
    {
        if (embeddings.Count == 0)
        {
            return;
        }

        for (int i = 0; i < _encoders.Count; i++)
        {
            (ClipTokenizer tokenizer, ClipTextModel encoder) = _encoders[i];
            string component = _components[i];
            int width = encoder.Config.HiddenSize;
            var names = new List<string>();
            var rows = new List<float>();
            foreach (TextualInversion e in embeddings)
            {
                float[][] vectors = (component == "text_encoder" ? e.ClipL : e.ClipG)
                    ?? throw new Viper.Weights.WeightsException($"{e.Source}: has no {(component == "text_encoder" ? "clip_l (or single)" : "clip_g")} vectors for this pipeline's {component}");
                if (vectors[0].Length != width)
                {
                    throw new Viper.Weights.WeightsException($"{e.Source}: its vectors are {vectors[0].Length} wide; {component} embeds {width} (an embedding for another model family?)");
                }

                names.AddRange(Enumerable.Range(0, vectors.Length).Select(v => v == 0 ? e.Token : $"{e.Token}_{v}"));
                rows.AddRange(vectors.SelectMany(v => v));
            }

            ClipTokenizer extended = tokenizer.WithAddedTokens(names);
            using Tensor table = _backend.FromFloats(rows.ToArray(), new Shape(names.Count, width));
            encoder.TextModel.Embeddings.AddTokenRows(table);
            _encoders[i] = (extended, encoder);
        }
    }

    /// <summary>Encodes one text; with <see cref="LongTextMode.Chunk"/>, into <paramref name="windows"/> 77-token windows (at least).</summary>
    public TextEmbedding Encode(string text, LongTextMode mode, int windows = 1)
    {
        var contexts = new List<Tensor>();
        Tensor? pooled = null;
        try
        {
            foreach ((ClipTokenizer tokenizer, ClipTextModel encoder) in _encoders)
            {
                int[][] ids = Windows(tokenizer, tokenizer.ExpandMultiVectorTokens(text), mode, windows);
                using ClipTextOutput output = encoder.Encode(ids, _penultimate ? HiddenStates.Only(-2) : HiddenStates.None);
                Tensor states = _penultimate ? output.HiddenStateFromEnd(2) : output.LastHiddenState;
                int d = states.Shape[2];
                using Tensor flat = states.Reshape(1, ids.Length * states.Shape[1], d);
                contexts.Add(_backend.Clone(flat));
                if (output.TextEmbeds is { } embeds)
                {
                    pooled?.Dispose();
                    pooled = _backend.Clone(embeds.Slice(0, 1));
                }
            }

            Tensor context = contexts.Count == 1 ? contexts[0] : _backend.Concat(contexts, axis: 2);
            if (contexts.Count > 1)
            {
                contexts.ForEach(c => c.Dispose());
            }

            return new TextEmbedding(context, pooled);
        }
        catch
        {
            contexts.ForEach(c => c.Dispose());
            pooled?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Aesthetic gradients: the prompt encoded (one 77-token window) with the encoders <paramref name="tune"/> personalizes
    /// — given the component, its tokenizer, the padded ids and whether this pipeline uses the penultimate state — taking
    /// their tuned hidden states (and, for an encoder with a projection, the tuned pooled text_embeds); the others keep
    /// theirs. The tuned encoding is then mixed with the plain one by <see cref="AestheticSettings.Weight"/>, linearly or by
    /// the A1111 slerp; weight 1 without slerp is the tuned encoding itself.
    /// </summary>
    internal TextEmbedding EncodeTuned(string text, Aesthetic.AestheticSettings settings, Func<string, ClipTokenizer, int[], bool, Aesthetic.AestheticResult?> tune)
    {
        using TextEmbedding plain = Encode(text, LongTextMode.Truncate);
        float[] context = plain.Context.ToFloats(), tuned = (float[])context.Clone();
        float[]? pooled = plain.Pooled?.ToFloats(), tunedPooled = (float[]?)pooled?.Clone();
        int tokens = plain.Context.Shape[1], width = plain.Context.Shape[2], offset = 0;
        for (int i = 0; i < _encoders.Count; i++)
        {
            (ClipTokenizer tokenizer, ClipTextModel encoder) = _encoders[i];
            int own = encoder.Config.HiddenSize;
            using Aesthetic.AestheticResult? r = tune(_components[i], tokenizer, tokenizer.EncodePadded(tokenizer.ExpandMultiVectorTokens(text)), _penultimate);
            if (r is not null)
            {
                float[] state = r.LastHiddenState.ToFloats();
                for (int t = 0; t < tokens; t++)
                {
                    Array.Copy(state, t * own, tuned, (t * width) + offset, own);
                }

                if (encoder.HasProjection && r.TextEmbeds is { } embeds && tunedPooled is not null)
                {
                    tunedPooled = embeds.ToFloats();
                }
            }

            offset += own;
        }

        float[] mixed = Mix(context, tuned, settings, tokens, width);
        float[]? mixedPooled = pooled is null ? null : Mix(pooled, tunedPooled!, settings, 1, pooled.Length, vector: true);
        Tensor result = _backend.FromFloats(mixed, plain.Context.Shape, plain.Context.DType);
        return new TextEmbedding(result, mixedPooled is null ? null : _backend.FromFloats(mixedPooled, plain.Pooled!.Shape, plain.Pooled.DType));
    }

    // The A1111 extension mixes the conditioning (B, tokens, C): slerp along dim 1 (each channel across the tokens); the pooled (1, P) as a vector.
    private static float[] Mix(float[] plain, float[] tuned, Aesthetic.AestheticSettings settings, int rows, int columns, bool vector = false) =>
        settings.Weight == 1f && !settings.Slerp ? tuned
            : !settings.Slerp ? Aesthetic.AestheticSlerp.Linear(plain, tuned, settings.Weight)
            : vector ? Aesthetic.AestheticSlerp.Vectors(plain, tuned, settings.Weight)
            : Aesthetic.AestheticSlerp.Columns(plain, tuned, settings.Weight, rows, columns);

    /// <summary>The text's tokens beyond what one 77-token window holds (0 when it fits): what truncation drops.</summary>
    public int TokensDropped(string text) => _encoders.Max(e => Math.Max(0, e.Tokenizer.Encode(e.Tokenizer.ExpandMultiVectorTokens(text)).Count - (e.Tokenizer.MaxLength - 2)));

    /// <summary>The number of 77-token windows a text needs when chunked.</summary>
    public int WindowsFor(string text) => _encoders.Max(e => e.Tokenizer.EncodeChunks(e.Tokenizer.ExpandMultiVectorTokens(text)).Length);

    public void Dispose() => _encoders.ForEach(e => e.Encoder.Dispose());

    /// <summary>The padded ids of the first tokenizer (77 for CLIP).</summary>
    public int[] PromptIds(string text) => _encoders[0].Tokenizer.EncodePadded(_encoders[0].Tokenizer.ExpandMultiVectorTokens(text));

    /// <summary>
    /// Aesthetic gradients replace the prompt's text_encoder states with those of a tuned CLIP text model: its vocabulary,
    /// width and length must be the text_encoder's.
    /// </summary>
    public void CheckPersonalizable(ClipTextConfig clip, string clipFolder)
    {
        if (_components[0] != "text_encoder")
        {
            throw new Viper.Weights.ModelConfigException("aesthetic gradients start from the prompt's text_encoder; this pipeline has only text_encoder_2 (an SDXL refiner used as the base)");
        }

        ClipTextConfig own = _encoders[0].Encoder.Config;
        if (own.HiddenSize != clip.HiddenSize || own.VocabSize != clip.VocabSize || own.MaxPositionEmbeddings != clip.MaxPositionEmbeddings)
        {
            throw new Viper.Weights.ModelConfigException(
                $"{clipFolder}: its text model (hidden {clip.HiddenSize}, vocab {clip.VocabSize}, {clip.MaxPositionEmbeddings} positions) differs in shape from the pipeline's text_encoder (hidden {own.HiddenSize}, vocab {own.VocabSize}, {own.MaxPositionEmbeddings} positions): aesthetic gradients tune the CLIP folder's text model in its place, so the two must be the same tower (openai/clip-vit-large-patch14 for SD1.x)");
        }
    }

    private static int[][] Windows(ClipTokenizer tokenizer, string text, LongTextMode mode, int windows)
    {
        if (mode == LongTextMode.Truncate)
        {
            return [tokenizer.EncodePadded(text)];
        }

        int[][] chunks = tokenizer.EncodeChunks(text);
        return chunks.Concat(Enumerable.Repeat(tokenizer.EncodePadded(""), Math.Max(0, windows - chunks.Length))).ToArray();
    }
}

using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Viper.Models.Tokenizers;

/// <summary>
/// Mistral's SentencePiece BPE (byte fallback) as transformers' slow LlamaTokenizer with <c>legacy=False</c> and
/// <c>add_prefix_space</c> encodes, plus a folder's added tokens (IDEFICS2: <c>&lt;fake_token_around_image&gt;</c>,
/// <c>&lt;image&gt;</c>, <c>&lt;end_of_utterance&gt;</c>):
/// <list type="bullet">
/// <item>special and added tokens are split out of the text first and map to their ids;</item>
/// <item>only the very start of the text gets SentencePiece's "▁" prefix — a piece after a special token does not (the
/// dummy prefix is off in legacy=False mode), and a text that starts with a special token gets none;</item>
/// <item>BOS is prepended (<c>add_bos_token</c>).</item>
/// </list>
/// </summary>
public sealed class MistralTokenizer
{
    private const char Underline = '\u2581';

    private readonly SentencePieceTokenizer _pieces;
    private readonly SentencePieceBpe _bpe;
    private readonly PieceTexts _texts;
    private readonly Dictionary<string, int> _special;
    private readonly Dictionary<int, string> _specialById;
    private readonly string[] _longestFirst;

    private MistralTokenizer(SentencePieceTokenizer pieces, SentencePieceBpe bpe, PieceTexts texts, Dictionary<string, int> special, bool addBos)
    {
        _pieces = pieces;
        _bpe = bpe;
        _texts = texts;
        _special = special;
        _specialById = special.ToDictionary(kv => kv.Value, kv => kv.Key);
        _longestFirst = [.. special.Keys.OrderByDescending(t => t.Length)];
        AddBos = addBos;
    }

    public int BosId => _pieces.BeginningOfSentenceId;

    public int EosId => _pieces.EndOfSentenceId;

    public bool AddBos { get; }

    /// <summary>Every id the tokenizer can produce: the SentencePiece vocabulary and the added tokens.</summary>
    public int VocabularySize => Math.Max(_pieces.Vocabulary.Count, _special.Values.DefaultIfEmpty(0).Max() + 1);

    /// <summary>The id of a special or added token ("&lt;image&gt;").</summary>
    public int TokenId(string token) =>
        _special.TryGetValue(token, out int id) ? id : throw new KeyNotFoundException($"mistral tokenizer: '{token}' is not a special or added token");

    /// <summary>
    /// Reads <c>tokenizer.model</c> and the added tokens of <c>added_tokens.json</c> / <c>tokenizer_config.json</c>
    /// (<c>added_tokens_decoder</c>, <c>add_bos_token</c>) from a Hugging Face folder.
    /// </summary>
    public static MistralTokenizer Load(string folder)
    {
        string model = Path.Combine(folder, "tokenizer.model");
        if (!File.Exists(model))
        {
            throw new FileNotFoundException($"mistral tokenizer: {model} is missing (the SentencePiece model)", model);
        }

        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        bool addBos = true;
        if (TokenizerFiles.ReadJson(Path.Combine(folder, "tokenizer_config.json"), "mistral") is { } config)
        {
            if (config.TryGetProperty("added_tokens_decoder", out JsonElement added))
            {
                foreach (JsonProperty p in added.EnumerateObject())
                {
                    special[p.Value.GetProperty("content").GetString()!] = int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            if (config.TryGetProperty("add_bos_token", out JsonElement bos) && bos.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                addBos = bos.GetBoolean();
            }
        }

        if (TokenizerFiles.ReadJson(Path.Combine(folder, "added_tokens.json"), "mistral") is { } tokens)
        {
            foreach (JsonProperty p in tokens.EnumerateObject())
            {
                special[p.Name] = p.Value.GetInt32();
            }
        }

        return FromModel(model, special, addBos);
    }

    /// <summary>A plain Mistral tokenizer from a SentencePiece model file, with &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; as its special tokens.</summary>
    public static MistralTokenizer FromModel(string modelPath, IReadOnlyDictionary<string, int>? added = null, bool addBos = true)
    {
        byte[] bytes = File.ReadAllBytes(modelPath);
        SentencePieceTokenizer pieces;
        IReadOnlyList<(string Piece, float Score, SentencePieceType Type)> vocabulary;
        try
        {
            // Microsoft.ML.Tokenizers reads the special tokens; encoding is SentencePieceBpe's, whose merges break score
            // ties as SentencePiece does, and decoding PieceTexts', which follows transformers where Microsoft.ML does not.
            pieces = LlamaTokenizer.Create(new MemoryStream(bytes), addBeginOfSentence: false, addEndOfSentence: false);
            vocabulary = SentencePieceModelFile.Read(bytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"mistral tokenizer: {modelPath} is not a SentencePiece model ({e.Message})", e);
        }

        var special = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [pieces.UnknownToken] = pieces.UnknownId, [pieces.BeginningOfSentenceToken] = pieces.BeginningOfSentenceId,
            [pieces.EndOfSentenceToken] = pieces.EndOfSentenceId,
        };
        foreach ((string token, int id) in added ?? new Dictionary<string, int>())
        {
            special[token] = id;
        }

        return new MistralTokenizer(pieces, SentencePieceBpe.FromPieces(vocabulary), new PieceTexts(vocabulary), special, addBos);
    }

    /// <summary>Token ids of <paramref name="text"/>, BOS first when the folder asks for it.</summary>
    public int[] Encode(string text) => Encode(text, start: true);

    /// <summary>
    /// Ids of text that continues an encoded text which ended with a special token (no BOS, no "▁" prefix): then
    /// Encode(a) followed by EncodeContinuation(b) equals Encode(a + b), as the two sides share no SentencePiece run.
    /// </summary>
    public int[] EncodeContinuation(string text) => Encode(text, start: false);

    private int[] Encode(string text, bool start)
    {
        var ids = new List<int>();
        if (AddBos && start)
        {
            ids.Add(BosId);
        }

        bool first = start;
        foreach ((string segment, int? specialId) in Split(text.Replace(Underline, ' ')))
        {
            if (specialId is { } id)
            {
                ids.Add(id);
            }
            else if (segment.Length > 0)
            {
                // transformers prefixes the whole text once (add_prefix_space); SentencePiece sees spaces as "▁".
                _bpe.Encode((first ? " " + segment : segment).Replace(' ', Underline), ids);
            }

            first = false;
        }

        return [.. ids];
    }

    /// <summary>
    /// Text of <paramref name="ids"/> as transformers' LlamaTokenizer (legacy=False) decodes with skip_special_tokens:
    /// special and added tokens left out, the first remaining piece without its "▁", byte pieces joined into UTF-8.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        var decoder = new StreamingDecoder(this);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            text.Append(decoder.Push(id));
        }

        return text.Append(decoder.Finish()).ToString();
    }

    /// <summary>What <paramref name="id"/> contributes to decoded text (see <see cref="PieceTexts"/>); special ids are skipped.</summary>
    internal PieceText PieceOf(int id) =>
        _specialById.ContainsKey(id) ? PieceText.Skipped
        : id >= 0 && id < _texts.Count ? _texts[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"mistral tokenizer: no token has id {id} (vocabulary of {VocabularySize})");

    // The text cut at every special or added token (longest match first), as transformers' added-tokens trie splits it.
    private IEnumerable<(string Segment, int? Special)> Split(string text)
    {
        int start = 0, i = 0;
        while (i < text.Length)
        {
            string? match = _longestFirst.FirstOrDefault(t => string.CompareOrdinal(text, i, t, 0, t.Length) == 0);
            if (match is null)
            {
                i++;
                continue;
            }

            yield return (text[start..i], null);
            yield return (match, _special[match]);
            i += match.Length;
            start = i;
        }

        yield return (text[start..], null);
    }
}

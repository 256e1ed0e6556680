using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Viper.Models.Tokenizers;

/// <summary>
/// CLIP's byte-level BPE with the "&lt;/w&gt;" end-of-word suffix, as transformers' CLIPTokenizer (ftfy path),
/// loaded from a checkpoint's <c>tokenizer/</c> folder (vocab.json, merges.txt, special_tokens_map.json).
/// Stable Diffusion's convention: BOS, up to <see cref="MaxLength"/> − 2 tokens, EOS, then the pad token —
/// EOS for SD1.x/2.x and SDXL's first tokenizer, "!" (id 0) for SDXL's <c>tokenizer_2</c>.
/// </summary>
public sealed partial class ClipTokenizer
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<int, string> _tokens;
    private readonly Dictionary<string, int> _added;

    private ClipTokenizer(BpeTokenizer bpe, Dictionary<int, string> tokens, Dictionary<string, int> added, int bos, int eos, int pad, int maxLength)
    {
        _bpe = bpe;
        _tokens = tokens;
        _added = added;
        BosId = bos;
        EosId = eos;
        PadId = pad;
        MaxLength = maxLength;
    }

    /// <summary>The added vocabulary (textual-inversion tokens), token → id.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => _added;

    /// <summary>
    /// A tokenizer with <paramref name="tokens"/> added after every existing id, as transformers' <c>add_tokens</c>: each is
    /// matched whole in the raw text before BPE (the longest first), and no id of the base vocabulary changes.
    /// </summary>
    public ClipTokenizer WithAddedTokens(IReadOnlyList<string> tokens)
    {
        var ids = new Dictionary<int, string>(_tokens);
        var added = new Dictionary<string, int>(_added, StringComparer.Ordinal);
        foreach (string token in tokens)
        {
            if (string.IsNullOrEmpty(token) || _tokens.ContainsValue(token) || _tokens.ContainsValue(token + "</w>") || added.ContainsKey(token))
            {
                throw new ArgumentException($"the token '{token}' is already in the tokenizer's vocabulary: pick another (FILE:TOKEN)", nameof(tokens));
            }

            int id = ids.Keys.Max() + 1;
            added[token] = id;
            ids[id] = token;
        }

        return new ClipTokenizer(_bpe, ids, added, BosId, EosId, PadId, MaxLength);
    }

    /// <summary>
    /// diffusers' <c>maybe_convert_prompt</c>: each added token found in <paramref name="text"/> that has siblings
    /// <c>token_1</c>, <c>token_2</c>… (a multi-vector embedding) is replaced by "token token_1 token_2 …".
    /// </summary>
    public string ExpandMultiVectorTokens(string text)
    {
        foreach (string token in Split(text).Where(s => s.Added).Select(s => s.Text).Distinct(StringComparer.Ordinal).ToList())
        {
            string replacement = token;
            for (int i = 1; _added.ContainsKey($"{token}_{i}"); i++)
            {
                replacement += $" {token}_{i}";
            }

            text = text.Replace(token, replacement, StringComparison.Ordinal);
        }

        return text;
    }

    public int BosId { get; }

    public int EosId { get; }

    public int PadId { get; }

    /// <summary>Sequence length of one encoded prompt, BOS and EOS included (77 for every SD checkpoint).</summary>
    public int MaxLength { get; }

    /// <summary>Reads <paramref name="folder"/>'s vocab.json and merges.txt, and the pad token and length its configs name.</summary>
    public static ClipTokenizer Load(string folder)
    {
        string vocab = Path.Combine(folder, "vocab.json"), merges = Path.Combine(folder, "merges.txt");
        foreach (string file in new[] { vocab, merges })
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"CLIP tokenizer: {file} is missing", file);
            }
        }

        string padToken = EndOfText;
        int maxLength = 77;
        if (TokenizerFiles.ReadJson(Path.Combine(folder, "special_tokens_map.json"), "CLIP") is { } map && map.TryGetProperty("pad_token", out JsonElement pad))
        {
            padToken = pad.ValueKind == JsonValueKind.Object ? pad.GetProperty("content").GetString()! : pad.GetString()!;
        }

        if (TokenizerFiles.ReadJson(Path.Combine(folder, "tokenizer_config.json"), "CLIP") is { } config &&
            config.TryGetProperty("model_max_length", out JsonElement length) && length.TryGetInt32(out int l) && l is > 2 and <= 4096)
        {
            maxLength = l;
        }

        return Create(vocab, merges, padToken, maxLength);
    }

    public static ClipTokenizer Create(string vocabPath, string mergesPath, string padToken = EndOfText, int maxLength = 77)
    {
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                ?? throw new InvalidDataException("empty vocabulary");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"CLIP tokenizer: {vocabPath} is not a JSON token → id map: {e.Message}", e);
        }

        int Id(string token) => vocabulary.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"CLIP tokenizer: {vocabPath} has no '{token}' token");
        var special = new Dictionary<string, int> { [StartOfText] = Id(StartOfText), [EndOfText] = Id(EndOfText) };
        var options = new BpeOptions(vocabulary)
        {
            Merges = ReadMerges(mergesPath),
            ByteLevel = true,
            EndOfWordSuffix = "</w>",
            PreTokenizer = new RegexPreTokenizer(Pattern(), special),
            Normalizer = new CleaningNormalizer(),
            SpecialTokens = special,
        };
        return new ClipTokenizer(BpeTokenizer.Create(options), vocabulary.ToDictionary(kv => kv.Value, kv => kv.Key), new Dictionary<string, int>(StringComparer.Ordinal),
            special[StartOfText], special[EndOfText], Id(padToken), maxLength);
    }

    /// <summary>The BPE ids of the cleaned text, without BOS/EOS.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_added.Count == 0)
        {
            return _bpe.EncodeToIds(text);
        }

        var ids = new List<int>();
        foreach ((string piece, bool added) in Split(text))
        {
            if (added)
            {
                ids.Add(_added[piece]);
            }
            else
            {
                ids.AddRange(_bpe.EncodeToIds(piece));
            }
        }

        return ids;
    }

    /// <summary>The text cut at each added token (leftmost first, the longest at a position), as transformers' added-token trie.</summary>
    private IEnumerable<(string Text, bool Added)> Split(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            string? match = _added.Keys.Where(t => string.CompareOrdinal(text, i, t, 0, t.Length) == 0).MaxBy(t => t.Length);
            if (match is null)
            {
                i++;
                continue;
            }

            if (i > start)
            {
                yield return (text[start..i], false);
            }

            yield return (match, true);
            i += match.Length;
            start = i;
        }

        if (start < text.Length)
        {
            yield return (text[start..], false);
        }
    }

    /// <summary>BOS, the first <see cref="MaxLength"/> − 2 ids, EOS, pad to <see cref="MaxLength"/> (truncation as in SD pipelines).</summary>
    public int[] EncodePadded(string text) => Wrap(Encode(text), 0, MaxLength - 2);

    /// <summary>
    /// Long-text encoding: the ids cut into chunks of <see cref="MaxLength"/> − 2, each wrapped BOS…EOS and padded,
    /// to be encoded separately and their hidden states concatenated along the sequence. At least one chunk.
    /// </summary>
    public int[][] EncodeChunks(string text)
    {
        IReadOnlyList<int> ids = Encode(text);
        int body = MaxLength - 2;
        int chunks = Math.Max(1, (ids.Count + body - 1) / body);
        return Enumerable.Range(0, chunks).Select(c => Wrap(ids, c * body, body)).ToArray();
    }

    /// <summary>Text of the ids, special tokens and padding dropped, each "&lt;/w&gt;" read as a space (as CLIPTokenizer.decode).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        foreach (int id in ids.Where(i => i != BosId && i != EosId && i != PadId))
        {
            string token = _tokens.TryGetValue(id, out string? t) ? t : throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is not in the vocabulary");
            if (_added.ContainsKey(token))
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(token + " "));
                continue;
            }

            bool endOfWord = token.EndsWith("</w>", StringComparison.Ordinal);
            foreach (char c in endOfWord ? token[..^4] : token)
            {
                bytes.Add(ByteLevel.ToByte(c));
            }

            if (endOfWord)
            {
                bytes.Add((byte)' ');
            }
        }

        return System.Text.Encoding.UTF8.GetString(bytes.ToArray()).TrimEnd();
    }

    private int[] Wrap(IReadOnlyList<int> ids, int start, int count)
    {
        int[] row = new int[MaxLength];
        Array.Fill(row, PadId);
        row[0] = BosId;
        int n = Math.Min(count, Math.Max(0, ids.Count - start));
        for (int i = 0; i < n; i++)
        {
            row[1 + i] = ids[start + i];
        }

        row[1 + n] = EosId;
        return row;
    }

    private static List<string> ReadMerges(string path) =>
        File.ReadLines(path).Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal)).ToList();


    /// <summary>CLIP's pre-tokenizer (openai/CLIP simple_tokenizer.py), matched on the cleaned, lower-cased text.</summary>
    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    private sealed class CleaningNormalizer : Normalizer
    {
        public override string Normalize(string original) => ClipTextCleaner.Clean(original);

        public override string Normalize(ReadOnlySpan<char> original) => ClipTextCleaner.Clean(original.ToString());
    }
}

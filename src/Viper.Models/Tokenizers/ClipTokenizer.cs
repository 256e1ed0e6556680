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

    private ClipTokenizer(BpeTokenizer bpe, Dictionary<string, int> vocabulary, int bos, int eos, int pad, int maxLength)
    {
        _bpe = bpe;
        _tokens = vocabulary.ToDictionary(kv => kv.Value, kv => kv.Key);
        BosId = bos;
        EosId = eos;
        PadId = pad;
        MaxLength = maxLength;
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
        return new ClipTokenizer(BpeTokenizer.Create(options), vocabulary, special[StartOfText], special[EndOfText], Id(padToken), maxLength);
    }

    /// <summary>The BPE ids of the cleaned text, without BOS/EOS.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _bpe.EncodeToIds(text);
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

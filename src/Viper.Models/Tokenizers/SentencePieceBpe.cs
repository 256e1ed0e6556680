using System.Text;

namespace Viper.Models.Tokenizers;

/// <summary>
/// SentencePiece's BPE encoder (bpe_model.cc) over a model file's pieces, for text already normalised (spaces as "▁"):
/// characters become symbols, then the adjacent pair whose merged piece is in the vocabulary with the highest score is
/// merged — on equal scores the leftmost, as SentencePiece's agenda orders them — until none is left; a symbol outside
/// the vocabulary becomes its UTF-8 bytes (&lt;0xNN&gt; pieces) when the model has byte fallback, else &lt;unk&gt;.
/// </summary>
internal sealed class SentencePieceBpe
{
    private readonly Dictionary<string, int> _mergeable;
    private readonly float[] _scores;
    private readonly int[] _bytePieces;
    private readonly bool _byteFallback;

    private SentencePieceBpe(Dictionary<string, int> mergeable, float[] scores, int[] bytePieces, int unknownId)
    {
        (_mergeable, _scores, _bytePieces, UnknownId) = (mergeable, scores, bytePieces, unknownId);
        _byteFallback = bytePieces.Any(b => b >= 0);
    }

    public int UnknownId { get; }

    public static SentencePieceBpe FromPieces(IReadOnlyList<(string Piece, float Score, SentencePieceType Type)> pieces)
    {
        var mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        int[] bytes = new int[256];
        Array.Fill(bytes, -1);
        int unknown = 0;
        for (int id = 0; id < pieces.Count; id++)
        {
            (string piece, _, SentencePieceType type) = pieces[id];
            switch (type)
            {
                case SentencePieceType.Normal or SentencePieceType.UserDefined:
                    mergeable.TryAdd(piece, id); // model_interface.cc: the pieces a merge may produce (unused ones are refused on load)
                    break;
                case SentencePieceType.Unused:
                    throw new InvalidDataException($"piece {id} '{piece}' is of the UNUSED type, which this encoder does not resegment");
                case SentencePieceType.Byte when piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal):
                    bytes[Convert.ToInt32(piece[3..5], 16)] = id;
                    break;
                case SentencePieceType.Unknown:
                    unknown = id;
                    break;
            }
        }

        return new SentencePieceBpe(mergeable, [.. pieces.Select(p => p.Score)], bytes, unknown);
    }

    public void Encode(string normalized, List<int> ids)
    {
        if (normalized.Length == 0)
        {
            return;
        }

        var symbols = new List<string>();
        for (int i = 0; i < normalized.Length; i += char.IsSurrogatePair(normalized, i) ? 2 : 1)
        {
            symbols.Add(normalized.Substring(i, char.IsSurrogatePair(normalized, i) ? 2 : 1));
        }

        int[] prev = [.. Enumerable.Range(-1, symbols.Count)];
        int[] next = [.. Enumerable.Range(1, symbols.Count).Select(n => n == symbols.Count ? -1 : n)];
        var agenda = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(Comparer<(float Score, int Left)>.Create(
            (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left)));
        for (int i = 1; i < symbols.Count; i++)
        {
            Propose(i - 1, i);
        }

        while (agenda.TryDequeue(out var pair, out _))
        {
            string left = symbols[pair.Left], right = symbols[pair.Right];
            if (left.Length == 0 || right.Length == 0 || left.Length + right.Length != pair.Size || next[pair.Left] != pair.Right)
            {
                continue; // stale: one side was merged into something else since this pair was proposed
            }

            symbols[pair.Left] = left + right;
            symbols[pair.Right] = "";
            next[pair.Left] = next[pair.Right];
            if (next[pair.Right] >= 0)
            {
                prev[next[pair.Right]] = pair.Left;
            }

            Propose(prev[pair.Left], pair.Left);
            Propose(pair.Left, next[pair.Left]);
        }

        for (int i = 0; i >= 0; i = next[i])
        {
            Emit(symbols[i], ids);
        }

        void Propose(int left, int right)
        {
            if (left < 0 || right < 0)
            {
                return;
            }

            string merged = symbols[left] + symbols[right];
            if (_mergeable.TryGetValue(merged, out int id))
            {
                agenda.Enqueue((left, right, merged.Length), (_scores[id], left));
            }
        }
    }

    private void Emit(string symbol, List<int> ids)
    {
        if (_mergeable.TryGetValue(symbol, out int id))
        {
            ids.Add(id);
            return;
        }

        if (!_byteFallback)
        {
            ids.Add(UnknownId); // no byte fallback: the whole symbol is unknown
            return;
        }

        foreach (byte b in Encoding.UTF8.GetBytes(symbol))
        {
            ids.Add(_bytePieces[b] >= 0 ? _bytePieces[b] : UnknownId);
        }
    }
}

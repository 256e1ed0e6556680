using System.Buffers;
using System.Text;

namespace Viper.Models.Tokenizers;

/// <summary>
/// Decodes ids one at a time, as they are generated, into exactly the text <see cref="MistralTokenizer.Decode"/> gives
/// for all of them (which is this, pushed through), in time linear in the answer. transformers' LlamaTokenizer
/// (legacy=False, skip_special_tokens) drops special ids first, removes the "▁" of the first piece left, and joins the
/// pieces, byte pieces (&lt;0xNN&gt;, byte fallback) turned into UTF-8 characters by sentencepiece's rule: a byte that
/// does not begin a complete, valid character becomes U+FFFD on its own. So a character whose bytes come over several
/// ids is held back until complete — no delta shows half a character — and a special id between them does not break it.
/// </summary>
public sealed class StreamingDecoder(MistralTokenizer tokenizer)
{
    private readonly List<byte> _bytes = [];
    private bool _started;

    /// <summary>The text <paramref name="id"/> adds ("" while a character's bytes are incomplete, or for a special id).</summary>
    public string Push(int id)
    {
        PieceText piece = tokenizer.PieceOf(id);
        if (piece == PieceText.Skipped)
        {
            return "";
        }

        bool first = !_started;
        _started = true;
        if (piece.IsByte)
        {
            _bytes.Add((byte)piece.Byte);
            return DecodeBytes(final: false);
        }

        return DecodeBytes(final: true) + (first && piece.StartsWithSpace ? piece.Text[1..] : piece.Text);
    }

    /// <summary>The bytes still held at the end of the answer (an incomplete character: U+FFFD per byte).</summary>
    public string Finish() => DecodeBytes(final: true);

    private string DecodeBytes(bool final)
    {
        var text = new StringBuilder();
        int offset = 0;
        while (offset < _bytes.Count)
        {
            ReadOnlySpan<byte> rest = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes)[offset..];
            OperationStatus status = Rune.DecodeFromUtf8(rest, out Rune rune, out _);
            if (status == OperationStatus.NeedMoreData && !final)
            {
                break; // the character's other bytes may still come
            }

            if (status == OperationStatus.Done)
            {
                text.Append(rune.ToString());
                offset += rune.Utf8SequenceLength;
            }
            else
            {
                text.Append('\uFFFD');
                offset++;
            }
        }

        _bytes.RemoveRange(0, offset);
        return text.ToString();
    }
}

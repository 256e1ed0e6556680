namespace Viper.Models.Tokenizers;

/// <summary>What one id adds to decoded text: a piece's text ("▁" as a space), one byte of a UTF-8 character, or nothing.</summary>
internal readonly record struct PieceText(string Text, int Byte)
{
    public static PieceText Skipped => new("", -1);

    public bool IsByte => Byte >= 0;

    /// <summary>The piece began with "▁": transformers drops that space when the piece comes first.</summary>
    public bool StartsWithSpace => Text.Length > 0 && Text[0] == ' ';
}

/// <summary>
/// The text of every piece of a SentencePiece model as sentencepiece's decoder gives it (sentencepiece_processor.cc
/// DecodeSentencePiece): normal and user-defined pieces with "▁" as a space, byte pieces (&lt;0xNN&gt;) as their byte,
/// control pieces as nothing, the unknown piece as " ⁇ ".
/// </summary>
internal sealed class PieceTexts(IReadOnlyList<(string Piece, float Score, SentencePieceType Type)> pieces)
{
    private readonly PieceText[] _texts = [.. pieces.Select(p => p.Type switch
    {
        SentencePieceType.Byte when p.Piece.Length == 6 && p.Piece.StartsWith("<0x", StringComparison.Ordinal) => new PieceText("", Convert.ToInt32(p.Piece[3..5], 16)),
        SentencePieceType.Control or SentencePieceType.Byte => PieceText.Skipped,
        SentencePieceType.Unknown => new PieceText(" \u2047 ", -1),
        _ => new PieceText(p.Piece.Replace('\u2581', ' '), -1),
    })];

    public int Count => _texts.Length;

    public PieceText this[int id] => _texts[id];
}

using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Viper.Models.Tokenizers;

/// <summary>
/// The text clean-up CLIP's tokenizer applies before BPE — transformers' CLIPTokenizer with ftfy installed:
/// <c>whitespace_clean(ftfy.fix_text(text)).lower()</c>. Of ftfy's default fixes this applies the ones that
/// change prompts people type: HTML entities (only when the text has no '&lt;', ftfy's "auto"), Latin ligatures,
/// full-width characters, curly quotes, line breaks, control characters, then NFC. ftfy's mojibake repair
/// (text decoded with the wrong codec) is not reproduced.
/// </summary>
public static partial class ClipTextCleaner
{
    public static string Clean(string text)
    {
        if (!text.Contains('<'))
        {
            text = WebUtility.HtmlDecode(text);
        }

        var sb = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            Append(sb, rune);
        }

        string fixedText = sb.ToString().Normalize(NormalizationForm.FormC);
        return Whitespace().Replace(fixedText, " ").Trim().ToLowerInvariant();
    }

    private static void Append(StringBuilder sb, Rune rune)
    {
        int c = rune.Value;
        switch (c)
        {
            case >= 0x2018 and <= 0x201B or 0x02BC:
                sb.Append('\'');
                return;
            case >= 0x201C and <= 0x201F:
                sb.Append('"');
                return;
            case '\r' or 0x2028 or 0x2029 or 0x85:
                sb.Append('\n');
                return;
        }

        if (IsControl(c))
        {
            return;
        }

        if (IsLigature(c) || IsWidthVariant(c))
        {
            sb.Append(rune.ToString().Normalize(NormalizationForm.FormKC));
            return;
        }

        sb.Append(rune.ToString());
    }

    /// <summary>ftfy's CONTROL_CHARS: C0 controls except tab, LF, FF, CR; DEL; deprecated format characters; BOM; tags.</summary>
    private static bool IsControl(int c) =>
        c is (>= 0 and <= 8) or 0x0B or (>= 0x0E and <= 0x1F) or 0x7F or (>= 0x206A and <= 0x206F) or 0xFEFF
            or (>= 0xFFF9 and <= 0xFFFC) or (>= 0x1D173 and <= 0x1D17A) or (>= 0xE0000 and <= 0xE007F);

    /// <summary>ftfy's fix_latin_ligatures: ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ, Ĳ ĳ, ŉ and the DŽ/LJ/NJ/DZ digraphs.</summary>
    private static bool IsLigature(int c) =>
        c is (>= 0xFB00 and <= 0xFB06) or 0x0132 or 0x0133 or 0x0149 or (>= 0x01C4 and <= 0x01CC) or (>= 0x01F1 and <= 0x01F3);

    /// <summary>ftfy's fix_character_width: full-width ASCII, half-width katakana/hangul, the ideographic space.</summary>
    private static bool IsWidthVariant(int c) => c is 0x3000 or (>= 0xFF01 and <= 0xFFEE);

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

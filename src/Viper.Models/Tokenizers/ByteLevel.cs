namespace Viper.Models.Tokenizers;

/// <summary>
/// GPT-2's reversible byte ↔ printable-character map (bytes_to_unicode in openai/CLIP's simple_tokenizer.py):
/// printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100 onwards.
/// </summary>
internal static class ByteLevel
{
    private static readonly Dictionary<char, byte> CharToByte = Build();

    public static byte ToByte(char c) =>
        CharToByte.TryGetValue(c, out byte b) ? b : throw new ArgumentException($"U+{(int)c:X4} is not a byte-level character");

    private static Dictionary<char, byte> Build()
    {
        var map = new Dictionary<char, byte>();
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            map[printable ? (char)b : (char)next++] = (byte)b;
        }

        return map;
    }
}

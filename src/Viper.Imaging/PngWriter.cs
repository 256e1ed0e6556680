using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Viper.Imaging;

/// <summary>
/// Writes 8-bit RGB PNGs with tEXt chunks (PNG spec §11.3.4.3: Latin-1 keyword, NUL, Latin-1 text; non-Latin-1 text goes
/// in an uncompressed iTXt chunk as UTF-8). Scanlines are unfiltered and zlib-compressed.
/// </summary>
public static class PngWriter
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }

        return c;
    }).ToArray();

    public static void Write(string path, RgbImage image, IReadOnlyDictionary<string, string>? text = null)
    {
        using FileStream file = File.Create(path);
        Write(file, image, text);
    }

    public static void Write(Stream stream, RgbImage image, IReadOnlyDictionary<string, string>? text = null) =>
        Write(stream, image.Width, image.Height, image.Pixels, text);

    /// <summary>RGB rows from any memory (a native buffer of a decoded upload, say), 3 bytes per pixel.</summary>
    public static void Write(Stream stream, int width, int height, ReadOnlySpan<byte> rgb, IReadOnlyDictionary<string, string>? text = null)
    {
        if (width <= 0 || height <= 0 || rgb.Length != (long)width * height * 3)
        {
            throw new ArgumentException($"{rgb.Length} bytes are not {width}×{height} RGB pixels", nameof(rgb));
        }

        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type RGB
        Chunk(stream, "IHDR", header);
        foreach ((string key, string value) in text ?? new Dictionary<string, string>())
        {
            if (key.Length is 0 or > 79 || key.Any(ch => ch > 0xff || ch == 0))
            {
                throw new ArgumentException($"PNG text keyword '{key}' must be 1–79 Latin-1 characters");
            }

            bool latin1 = value.All(ch => ch <= 0xff && ch != 0);
            byte[] keyword = Encoding.Latin1.GetBytes(key);
            byte[] body = latin1
                ? [.. keyword, 0, .. Encoding.Latin1.GetBytes(value)]
                : [.. keyword, 0, 0, 0, 0, 0, .. Encoding.UTF8.GetBytes(value)];
            Chunk(stream, latin1 ? "tEXt" : "iTXt", body);
        }

        Chunk(stream, "IDAT", Compress(width, height, rgb));
        Chunk(stream, "IEND", []);
    }

    private static byte[] Compress(int width, int height, ReadOnlySpan<byte> rgb)
    {
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            int row = width * 3;
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0); // filter: none
                zlib.Write(rgb.Slice(y * row, row));
            }
        }

        return buffer.ToArray();
    }

    private static void Chunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        byte[] typeBytes = Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        uint crc = 0xffffffffu;
        foreach (byte v in typeBytes)
        {
            crc = CrcTable[(crc ^ v) & 0xff] ^ (crc >> 8);
        }

        foreach (byte v in data)
        {
            crc = CrcTable[(crc ^ v) & 0xff] ^ (crc >> 8);
        }

        BinaryPrimitives.WriteUInt32BigEndian(length, crc ^ 0xffffffffu);
        stream.Write(length);
    }
}

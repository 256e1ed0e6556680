using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Viper.Runtime;

namespace Viper.Weights;

/// <summary>
/// Parses and validates a safetensors header (huggingface/safetensors `lib.rs` rules): an 8-byte
/// little-endian length N, N bytes of UTF-8 JSON mapping names to {dtype, shape, data_offsets} plus an
/// optional "__metadata__" map of strings, then the data region. Every tensor's byte range must equal
/// shape × dtype size, ranges must tile the data region exactly (no overlap, no hole, no tail), and
/// names must be unique. Everything wrong raises <see cref="SafeTensorsFormatException"/>.
/// </summary>
public sealed class SafeTensorsHeader
{
    /// <summary>Largest header accepted, as upstream's MAX_HEADER_SIZE.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    private SafeTensorsHeader(IReadOnlyList<TensorEntry> tensors, IReadOnlyDictionary<string, string> metadata, long dataStart)
    {
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
    }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<TensorEntry> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>File offset of the data region (8 + N).</summary>
    public long DataStart { get; }

    /// <summary>Validates a whole file's contents (or its first bytes plus the true length).</summary>
    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        if (fileLength < 8 || prefix.Length < 8)
        {
            throw new SafeTensorsFormatException(source, $"file is {fileLength} bytes, shorter than the 8-byte header length");
        }

        ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (declared > MaxHeaderBytes)
        {
            throw new SafeTensorsFormatException(source, $"header length {declared} exceeds the {MaxHeaderBytes}-byte limit");
        }

        long headerLength = (long)declared;
        if (8 + headerLength > fileLength)
        {
            throw new SafeTensorsFormatException(source, $"header length {headerLength} runs past the end of a {fileLength}-byte file");
        }

        if (prefix.Length < 8 + headerLength)
        {
            throw new ArgumentException("prefix must hold the whole header", nameof(prefix));
        }

        ReadOnlySpan<byte> json = prefix.Slice(8, (int)headerLength);
        if (json.IsEmpty || json[0] != (byte)'{')
        {
            throw new SafeTensorsFormatException(source, "header does not start with '{'");
        }

        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(json);
        }
        catch (DecoderFallbackException e)
        {
            throw new SafeTensorsFormatException(source, $"header is not valid UTF-8 (byte {e.Index} of the header)", e);
        }

        long dataLength = fileLength - 8 - headerLength;
        (List<TensorEntry> tensors, Dictionary<string, string> metadata) = ParseJson(json, source);
        CheckTiling(tensors, dataLength, source);
        return new SafeTensorsHeader(tensors, metadata, 8 + headerLength);
    }

    private static (List<TensorEntry>, Dictionary<string, string>) ParseJson(ReadOnlySpan<byte> json, string source)
    {
        var tensors = new List<TensorEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, "the header", source);
            while (Read(ref reader, source) && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                if (!names.Add(name))
                {
                    throw new SafeTensorsFormatException(source, $"duplicate entry '{name}' in the header");
                }

                if (name == MetadataKey)
                {
                    ParseMetadata(ref reader, metadata, source);
                }
                else
                {
                    tensors.Add(ParseTensor(ref reader, name, source));
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                throw new SafeTensorsFormatException(source, $"unexpected {reader.TokenType} in the header");
            }

            if (reader.Read())
            {
                throw new SafeTensorsFormatException(source, "content after the header's JSON object");
            }
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(source, $"header is not valid JSON: {e.Message}", e);
        }

        return (tensors, metadata);
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string source)
    {
        Expect(ref reader, JsonTokenType.StartObject, $"'{MetadataKey}'", source);
        while (Read(ref reader, source) && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            Read(ref reader, source);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new SafeTensorsFormatException(source, $"metadata value '{key}' is {reader.TokenType}, not a string");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new SafeTensorsFormatException(source, $"duplicate metadata key '{key}'");
            }
        }
    }

    private static TensorEntry ParseTensor(ref Utf8JsonReader reader, string name, string source)
    {
        if (name.Length == 0)
        {
            throw new SafeTensorsFormatException(source, "a tensor has an empty name");
        }

        Expect(ref reader, JsonTokenType.StartObject, $"tensor '{name}'", source);
        string? dtypeName = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (Read(ref reader, source) && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            Read(ref reader, source);
            bool seen = key switch
            {
                "dtype" => dtypeName is not null,
                "shape" => shape is not null,
                "data_offsets" => offsets is not null,
                _ => throw new SafeTensorsFormatException(source, $"tensor '{name}' has an unknown field '{key}'"),
            };
            if (seen)
            {
                throw new SafeTensorsFormatException(source, $"tensor '{name}' repeats the field '{key}'");
            }

            switch (key)
            {
                case "dtype":
                    dtypeName = reader.TokenType == JsonTokenType.String
                        ? reader.GetString()!
                        : throw new SafeTensorsFormatException(source, $"tensor '{name}': dtype is {reader.TokenType}, not a string");
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, name, key, source);
                    break;
                default:
                    offsets = ReadIntegers(ref reader, name, key, source);
                    break;
            }
        }

        if (dtypeName is null || shape is null || offsets is null)
        {
            string missing = dtypeName is null ? "dtype" : shape is null ? "shape" : "data_offsets";
            throw new SafeTensorsFormatException(source, $"tensor '{name}' has no '{missing}'");
        }

        return MakeEntry(name, dtypeName, shape, offsets, source);
    }

    private static TensorEntry MakeEntry(string name, string dtypeName, long[] shape, long[] offsets, string source)
    {
        if (!DTypeExtensions.TryParseSafeTensorsName(dtypeName, out DType dtype))
        {
            throw new SafeTensorsFormatException(source, $"tensor '{name}' has unsupported dtype '{dtypeName}'");
        }

        if (offsets.Length != 2)
        {
            throw new SafeTensorsFormatException(source, $"tensor '{name}': data_offsets must be [begin, end], got {offsets.Length} numbers");
        }

        if (offsets[0] > offsets[1])
        {
            throw new SafeTensorsFormatException(source, $"tensor '{name}': data_offsets begin {offsets[0]} is after end {offsets[1]}");
        }

        long bytes = dtype.SizeInBytes();
        foreach (long d in shape)
        {
            if (d > int.MaxValue)
            {
                throw new SafeTensorsFormatException(source, $"tensor '{name}': dimension {d} is larger than {int.MaxValue}");
            }

            if (d != 0 && bytes > long.MaxValue / d)
            {
                throw new SafeTensorsFormatException(source, $"tensor '{name}': shape [{string.Join(", ", shape)}] overflows a 64-bit byte count");
            }

            bytes *= d;
        }

        if (bytes != offsets[1] - offsets[0])
        {
            throw new SafeTensorsFormatException(source,
                $"tensor '{name}': shape [{string.Join(", ", shape)}] × {dtypeName} is {bytes} bytes but data_offsets span {offsets[1] - offsets[0]}");
        }

        return new TensorEntry(name, dtype, new Shape(shape.Select(d => (int)d).ToArray()), offsets[0], offsets[1]);
    }

    private static void CheckTiling(List<TensorEntry> tensors, long dataLength, string source)
    {
        long expected = 0;
        TensorEntry? previous = null;
        foreach (TensorEntry t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.End > dataLength)
            {
                throw new SafeTensorsFormatException(source,
                    $"tensor '{t.Name}': data_offsets [{t.Begin}, {t.End}] run past the {dataLength}-byte data region");
            }

            if (t.Begin < expected)
            {
                throw new SafeTensorsFormatException(source,
                    $"tensors '{previous!.Name}' and '{t.Name}' overlap (bytes {t.Begin}..{expected} of the data region)");
            }

            if (t.Begin > expected)
            {
                throw new SafeTensorsFormatException(source, $"bytes {expected}..{t.Begin} of the data region belong to no tensor (before '{t.Name}')");
            }

            expected = t.End;
            previous = t;
        }

        if (expected != dataLength)
        {
            throw new SafeTensorsFormatException(source, $"the data region has {dataLength - expected} trailing bytes that belong to no tensor");
        }
    }

    private static long[] ReadIntegers(ref Utf8JsonReader reader, string name, string field, string source)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new SafeTensorsFormatException(source, $"tensor '{name}': {field} is {reader.TokenType}, not an array");
        }

        var values = new List<long>();
        while (Read(ref reader, source) && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
            {
                string text = reader.TokenType == JsonTokenType.Number ? Encoding.UTF8.GetString(reader.ValueSpan) : reader.TokenType.ToString();
                throw new SafeTensorsFormatException(source, $"tensor '{name}': {field} holds {text}, not a non-negative 64-bit integer");
            }

            values.Add(v);
            if (values.Count > 64)
            {
                throw new SafeTensorsFormatException(source, $"tensor '{name}': {field} has more than 64 entries");
            }
        }

        return [.. values];
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what, string source)
    {
        Read(ref reader, source);
        if (reader.TokenType != type)
        {
            throw new SafeTensorsFormatException(source, $"{what} is {reader.TokenType}, expected {type}");
        }
    }

    private static bool Read(ref Utf8JsonReader reader, string source)
    {
        if (!reader.Read())
        {
            throw new SafeTensorsFormatException(source, "header JSON ends early");
        }

        return true;
    }
}

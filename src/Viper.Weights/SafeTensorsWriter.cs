using System.Buffers.Binary;
using System.Text.Json;
using Viper.Runtime;

namespace Viper.Weights;

/// <summary>A tensor to write: raw little-endian bytes of the given dtype and shape.</summary>
public sealed record TensorData(string Name, DType DType, Shape Shape, ReadOnlyMemory<byte> Data);

/// <summary>
/// Writes safetensors files the way huggingface/safetensors does: tensors laid out in the given order,
/// header JSON padded with spaces to a multiple of 8 bytes so the data region is aligned.
/// </summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IReadOnlyList<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            Write(stream, tensors, metadata);
        }

        File.Move(temp, path, overwrite: true);
    }

    public static byte[] ToBytes(IReadOnlyList<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = new MemoryStream();
        Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    public static void Write(Stream stream, IReadOnlyList<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        byte[] header = BuildHeader(tensors, metadata);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (TensorData t in tensors)
        {
            stream.Write(t.Data.Span);
        }
    }

    private static byte[] BuildHeader(IReadOnlyList<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach ((string k, string v) in metadata)
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (TensorData t in tensors)
            {
                long bytes = t.Shape.ElementCount * t.DType.SizeInBytes();
                if (!names.Add(t.Name) || t.Name == SafeTensorsHeader.MetadataKey)
                {
                    throw new ArgumentException($"tensor name '{t.Name}' is repeated or reserved");
                }

                if (bytes != t.Data.Length)
                {
                    throw new ArgumentException($"tensor '{t.Name}' {t.Shape} {t.DType} needs {bytes} bytes, got {t.Data.Length}");
                }

                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.SafeTensorsName());
                w.WriteStartArray("shape");
                foreach (int d in t.Shape.Dims)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }

            w.WriteEndObject();
        }

        int padded = (int)((json.Length + 7) / 8 * 8);
        byte[] header = new byte[padded];
        json.ToArray().CopyTo(header, 0);
        header.AsSpan((int)json.Length).Fill((byte)' ');
        return header;
    }
}

using System.Buffers.Binary;
using System.Text;

namespace Viper.Models.Tokenizers;

/// <summary>The piece types of sentencepiece_model.proto.</summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>
/// Reads the pieces of a SentencePiece model file (a ModelProto: field 1 holds the SentencePiece messages — piece
/// string 1, score float 2, type enum 3); the other fields are skipped. Malformed bytes are an InvalidDataException.
/// </summary>
internal static class SentencePieceModelFile
{
    public static IReadOnlyList<(string Piece, float Score, SentencePieceType Type)> Read(ReadOnlySpan<byte> model)
    {
        var pieces = new List<(string, float, SentencePieceType)>();
        var reader = new Reader(model.ToArray());
        while (!reader.AtEnd)
        {
            (int field, int wire) = reader.Tag();
            if (field == 1 && wire == 2)
            {
                pieces.Add(Piece(new Reader(reader.Bytes())));
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return pieces.Count > 0 ? pieces : throw new InvalidDataException("no pieces in the model");
    }

    private static (string, float, SentencePieceType) Piece(Reader r)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        while (!r.AtEnd)
        {
            (int field, int wire) = r.Tag();
            switch (field, wire)
            {
                case (1, 2):
                    piece = Encoding.UTF8.GetString(r.Bytes());
                    break;
                case (2, 5):
                    score = r.Fixed32();
                    break;
                case (3, 0):
                    type = (SentencePieceType)r.Varint();
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }

        return (piece, score, type);
    }

    private sealed class Reader(byte[] data)
    {
        private int _at;

        public bool AtEnd => _at >= data.Length;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Next(1)[0];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("a varint runs over 64 bits");
        }

        public byte[] Bytes() => Next(checked((int)Varint())).ToArray();

        public float Fixed32() => BinaryPrimitives.ReadSingleLittleEndian(Next(4));

        public void Skip(int wire)
        {
            _ = wire switch
            {
                0 => Varint(),
                1 => (ulong)Next(8).Length,
                2 => (ulong)Bytes().Length,
                5 => (ulong)Next(4).Length,
                _ => throw new InvalidDataException($"unsupported protobuf wire type {wire}"),
            };
        }

        private ReadOnlySpan<byte> Next(int count)
        {
            if (count < 0 || _at + count > data.Length)
            {
                throw new InvalidDataException("the model file ends in the middle of a field");
            }

            _at += count;
            return data.AsSpan(_at - count, count);
        }
    }
}

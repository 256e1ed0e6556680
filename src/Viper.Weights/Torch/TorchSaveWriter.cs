using System.IO.Compression;
using System.Text;
using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// Writes one contiguous tensor as <c>torch.save</c> does (zip archive, pickle protocol 2 calling
/// <c>torch._utils._rebuild_tensor_v2</c> on a storage saved from <c>cpu</c>), so <c>torch.load</c> — and the
/// aesthetic-gradients scripts that load embeddings with it — read it back.
/// </summary>
public static class TorchSaveWriter
{
    private static readonly Dictionary<DType, string> StorageNames = new()
    {
        [DType.F32] = "FloatStorage", [DType.F16] = "HalfStorage", [DType.BF16] = "BFloat16Storage",
        [DType.I32] = "IntStorage", [DType.I64] = "LongStorage", [DType.U8] = "ByteStorage", [DType.Bool] = "BoolStorage",
    };

    public static void Write(string path, DType dtype, Shape shape, ReadOnlySpan<byte> data)
    {
        if (data.Length != shape.ElementCount * dtype.SizeInBytes())
        {
            throw new ArgumentException($"{data.Length} bytes are not a {shape} {dtype} tensor", nameof(data));
        }

        string root = Path.GetFileNameWithoutExtension(path) is { Length: > 0 } n && n.All(char.IsAsciiLetterOrDigit) ? n : "archive";
        using FileStream file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        Add(zip, $"{root}/data.pkl", Pickle(dtype, shape));
        Add(zip, $"{root}/data/0", data);
        Add(zip, $"{root}/version", "3\n"u8);
    }

    private static void Add(ZipArchive zip, string name, ReadOnlySpan<byte> bytes)
    {
        using Stream s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    /// <summary>The opcodes torch.save (protocol 2) emits for a tensor, as pickletools shows them for the repo's embeddings.</summary>
    private static byte[] Pickle(DType dtype, Shape shape)
    {
        var p = new MemoryStream();
        p.Write([0x80, 2]);
        Global(p, "torch._utils", "_rebuild_tensor_v2");
        p.WriteByte((byte)'(');
        p.WriteByte((byte)'(');
        Unicode(p, "storage");
        Global(p, "torch", StorageNames[dtype]);
        Unicode(p, "0");
        Unicode(p, "cpu");
        Int(p, shape.ElementCount);
        p.WriteByte((byte)'t');
        p.WriteByte((byte)'Q'); // BINPERSID
        Int(p, 0);
        long[] strides = new long[shape.Rank];
        for (int i = shape.Rank - 1, s = 1; i >= 0; s *= shape[i], i--)
        {
            strides[i] = s;
        }

        Tuple(p, shape.ToArray().Select(d => (long)d));
        Tuple(p, strides);
        p.WriteByte(0x89); // False: requires_grad
        Global(p, "collections", "OrderedDict");
        p.WriteByte((byte)')');
        p.WriteByte((byte)'R');
        p.WriteByte((byte)'t');
        p.WriteByte((byte)'R');
        p.WriteByte((byte)'.');
        return p.ToArray();
    }

    private static void Global(Stream p, string module, string name) => p.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    private static void Unicode(Stream p, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        p.WriteByte((byte)'X');
        p.Write(BitConverter.GetBytes((uint)bytes.Length));
        p.Write(bytes);
    }

    private static void Int(Stream p, long v)
    {
        p.WriteByte((byte)'J');
        p.Write(BitConverter.GetBytes(checked((int)v)));
    }

    private static void Tuple(Stream p, IEnumerable<long> values)
    {
        p.WriteByte((byte)'(');
        foreach (long v in values)
        {
            Int(p, v);
        }

        p.WriteByte((byte)'t');
    }
}

using System.IO.Compression;
using System.Text;
using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// Writes contiguous tensors as <c>torch.save</c> does (zip archive, pickle protocol 2 calling
/// <c>torch._utils._rebuild_tensor_v2</c> on storages saved from <c>cpu</c>) — one tensor, or a state dict nested under
/// <c>"state_dict"</c> as Lightning saves checkpoints — so <c>torch.load</c> (and the aesthetic-gradients scripts that
/// load embeddings with it) read them back.
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
        Check(dtype, shape, data.Length);
        var p = new MemoryStream();
        p.Write([0x80, 2]);
        Tensor(p, dtype, shape, "0");
        p.WriteByte((byte)'.');
        using ZipArchive zip = Create(path, out string root);
        Add(zip, $"{root}/data.pkl", p.ToArray());
        Add(zip, $"{root}/data/0", data);
        Add(zip, $"{root}/version", "3\n"u8);
    }

    /// <summary>A checkpoint as Lightning writes it: <c>{"state_dict": {name: tensor, …}, "global_step": 0}</c>.</summary>
    public static void WriteCheckpoint(string path, IReadOnlyList<TensorData> tensors)
    {
        var p = new MemoryStream();
        p.Write([0x80, 2]);
        p.WriteByte((byte)'}');
        Unicode(p, "state_dict");
        p.WriteByte((byte)'}');
        p.WriteByte((byte)'(');
        for (int i = 0; i < tensors.Count; i++)
        {
            Check(tensors[i].DType, tensors[i].Shape, tensors[i].Data.Length);
            Unicode(p, tensors[i].Name);
            Tensor(p, tensors[i].DType, tensors[i].Shape, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        p.WriteByte((byte)'u'); // SETITEMS into the state dict
        p.WriteByte((byte)'s'); // SETITEM "state_dict" into the root
        Unicode(p, "global_step");
        Int(p, 0);
        p.WriteByte((byte)'s');
        p.WriteByte((byte)'.');
        using ZipArchive zip = Create(path, out string root);
        Add(zip, $"{root}/data.pkl", p.ToArray());
        for (int i = 0; i < tensors.Count; i++)
        {
            Add(zip, $"{root}/data/{i}", tensors[i].Data.Span);
        }

        Add(zip, $"{root}/version", "3\n"u8);
    }

    private static void Check(DType dtype, Shape shape, int bytes)
    {
        if (bytes != shape.ElementCount * dtype.SizeInBytes())
        {
            throw new ArgumentException($"{bytes} bytes are not a {shape} {dtype} tensor");
        }
    }

    private static ZipArchive Create(string path, out string root)
    {
        root = Path.GetFileNameWithoutExtension(path) is { Length: > 0 } n && n.All(char.IsAsciiLetterOrDigit) ? n : "archive";
        return new ZipArchive(File.Create(path), ZipArchiveMode.Create);
    }

    private static void Add(ZipArchive zip, string name, ReadOnlySpan<byte> bytes)
    {
        using Stream s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(bytes);
    }

    /// <summary>The opcodes torch.save (protocol 2) emits for a tensor in storage <paramref name="key"/>, as pickletools shows them for the repo's embeddings.</summary>
    private static void Tensor(Stream p, DType dtype, Shape shape, string key)
    {
        Global(p, "torch._utils", "_rebuild_tensor_v2");
        p.WriteByte((byte)'(');
        p.WriteByte((byte)'(');
        Unicode(p, "storage");
        Global(p, "torch", StorageNames[dtype]);
        Unicode(p, key);
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

using System.IO.Compression;
using System.Text;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>The three torch.save files of ../shared/refs/aesthetic (made by PyTorch), crafted pickles, broken zips.</summary>
public class TorchSaveFileTests
{
    private static string Ref(string name) => RepoPaths.Shared("refs", "aesthetic", name);

    [Theory]
    [InlineData("embedding_f32.pt", DType.F32, new[] { 1, 16 })]
    [InlineData("embedding_f16.pt", DType.F16, new[] { 1, 16 })]
    [InlineData("embedding_1d_f32.pt", DType.F32, new[] { 16 })]
    public void ReadsTheSavedEmbeddingsAsPyTorchWroteThem(string file, DType dtype, int[] shape)
    {
        TensorData t = TorchSaveFile.ReadTensor(Ref(file));
        Assert.Equal(dtype, t.DType);
        Assert.Equal(new Shape(shape), t.Shape);
        using var refs = new RefTensors(Ref("outputs.safetensors"));
        float[] expected = refs.Floats("aesthetic_embedding");
        float[] actual = HostTensors.DecodeFloats(t.Data.Span, dtype);
        float tolerance = dtype == DType.F16 ? 1e-3f : 0f; // the f16 file is the embedding rounded once
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"[{i}] {actual[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void AStorageSavedFromCudaReadsTheSame()
    {
        // The aesthetic-gradients repo ships embeddings saved from cuda:0; the refs were made on a CPU, so relocate one.
        using var zip = ZipFile.OpenRead(Ref("embedding_f32.pt"));
        byte[] pickle = ReadEntry(zip, "embedding_f32/data.pkl");
        byte[] cpu = [(byte)'X', 3, 0, 0, 0, .. "cpu"u8.ToArray()], cuda = [(byte)'X', 6, 0, 0, 0, .. "cuda:0"u8.ToArray()];
        int at = pickle.AsSpan().IndexOf(cpu);
        Assert.True(at > 0);
        byte[] relocated = [.. pickle[..at], .. cuda, .. pickle[(at + cpu.Length)..]];
        TensorData t = TorchSaveFile.ReadTensor(Zip(relocated, ReadEntry(zip, "embedding_f32/data/0")), "cuda.pt");
        Assert.Equal(TorchSaveFile.ReadTensor(Ref("embedding_f32.pt")).Data.ToArray(), t.Data.ToArray());
        Assert.Equal(TorchSaveFile.ReadTensor(Ref("embedding_f32.pt")).Data.ToArray(), TorchSaveFile.ReadTensor(Ref("embedding_1d_f32.pt")).Data.ToArray());
    }

    [Fact]
    public void WhatTheWriterSavesReadsBack()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "liked.pt");
        byte[] data = HostTensors.EncodeFloats([1f, -2.5f, 3.25f, 0f, 7f, 8f], DType.F16);
        TorchSaveWriter.Write(path, DType.F16, new Shape(2, 3), data);
        TensorData t = TorchSaveFile.ReadTensor(path);
        Assert.Equal((DType.F16, new Shape(2, 3)), (t.DType, t.Shape));
        Assert.Equal(data, t.Data.ToArray());
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("torch._utils", "_rebuild_parameter_with_state")]
    [InlineData("subprocess", "Popen")]
    public void AGlobalOutsideTheAllowListIsRefusedBeforeAnythingRuns(string module, string name)
    {
        // The classic payload: GLOBAL os.system, ('touch …',), REDUCE. The marker file must never appear.
        using var dir = new TempFolder();
        string marker = Path.Combine(dir.Path, "pwned");
        byte[] pickle = [0x80, 2, .. Encoding.ASCII.GetBytes($"c{module}\n{name}\nX"), .. BitConverter.GetBytes(6 + marker.Length),
            .. Encoding.ASCII.GetBytes($"touch {marker}"), 0x85, (byte)'R', (byte)'.'];
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle), "evil.pt"));
        Assert.Contains($"'{module}.{name}'", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void ACallableSmuggledThroughAnAllowedNameIsRefused()
    {
        // collections.OrderedDict called with arguments, and a storage type called directly: neither is how a tensor is saved.
        byte[] pickle = [0x80, 2, .. "ctorch\nFloatStorage\n)R."u8.ToArray()];
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle), "odd.pt"));
        Assert.Contains("REDUCE of torch.FloatStorage", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedAndCorruptFilesGiveTypedErrors()
    {
        byte[] good = File.ReadAllBytes(Ref("embedding_f32.pt"));
        Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(new MemoryStream(good[..(good.Length / 2)]), "half.pt"));
        Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(new MemoryStream("not a zip at all"u8.ToArray()), "text.pt"));
        Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(new MemoryStream([]), "empty.pt"));

        using var zip = ZipFile.OpenRead(Ref("embedding_f32.pt"));
        byte[] pickle = ReadEntry(zip, "embedding_f32/data.pkl");
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle[..^20]), "cut.pt"));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle, storage: new byte[60]), "short.pt"));
        Assert.Contains("archive/data/0 is declared as 60 bytes", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle, withStorage: false), "nostorage.pt"));
        Assert.Contains("storage '0'", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A zip entry that claims 0xFFFFFFF0 bytes is refused naming the file and the entry, before any inflating.</summary>
    [Fact]
    public void AnEntryClaimingFourGigabytesIsRefusedByName()
    {
        using var zip = ZipFile.OpenRead(Ref("embedding_f32.pt"));
        MemoryStream crafted = Zip(ReadEntry(zip, "embedding_f32/data.pkl"), storage: new byte[3072]);
        byte[] bytes = crafted.ToArray();
        PatchUncompressedSize(bytes, "archive/data/0", 0xFFFFFFF0);
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(new MemoryStream(bytes), "huge.pt"));
        Assert.Contains("huge.pt", e.Message, StringComparison.Ordinal);
        Assert.Contains("archive/data/0 is declared as 4294967280 bytes", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A small tensor on a storage that inflates to 60 MB of zeros (torch.save of a view saves the whole storage): only
    /// the bytes the tensor uses are inflated. Before, the whole storage was read, then refused (600 MB: 5.4 s, 1.27 GB).
    /// </summary>
    [Fact]
    public void OnlyTheBytesTheTensorUsesAreInflated()
    {
        const int storageElements = 15_000_000;
        byte[] pickle = TinyTensorPickle();
        byte[] sixteen = [.. "cpu"u8, (byte)'J', 16, 0, 0, 0];
        int at = IndexOf(pickle, sixteen);
        Assert.True(at >= 0, "the writer's pickle changed: no storage size 16 after 'cpu'");
        byte[] huge = [.. pickle[..(at + 4)], .. BitConverter.GetBytes(storageElements), .. pickle[(at + sixteen.Length)..]];
        var s = new MemoryStream();
        using (var archive = new ZipArchive(s, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(archive, "archive/data.pkl", huge);
            using Stream entry = archive.CreateEntry("archive/data/0", CompressionLevel.Fastest).Open();
            byte[] first = new byte[64];
            first[0] = 0x3f; // 16 f32 values: the first is not zero
            entry.Write(first);
            byte[] zeros = new byte[1 << 20];
            for (long written = 64; written < storageElements * 4L; written += zeros.Length)
            {
                entry.Write(zeros, 0, (int)Math.Min(zeros.Length, (storageElements * 4L) - written));
            }
        }

        s.Position = 0;
        Assert.True(s.Length < 1 << 20, $"the crafted file is {s.Length} bytes");
        long before = GC.GetAllocatedBytesForCurrentThread();
        TensorData tensor = TorchSaveFile.ReadTensor(s, "view.pt");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(new Shape(16), tensor.Shape);
        Assert.True(allocated < 1 << 20, $"reading allocated {allocated} bytes");
    }

    private static byte[] TinyTensorPickle()
    {
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "archive.pt");
        TorchSaveWriter.Write(path, DType.F32, new Shape(16), new byte[64]);
        using var zip = ZipFile.OpenRead(path);
        return ReadEntry(zip, "archive/data.pkl");
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle))
            {
                return i;
            }
        }

        return -1;
    }

    // The central directory's uncompressed size (offset 24 of the header whose name, at offset 46, is the entry's).
    private static void PatchUncompressedSize(byte[] zip, string name, uint size)
    {
        byte[] signature = [0x50, 0x4b, 0x01, 0x02];
        byte[] nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
        for (int i = 0; i + 46 + nameBytes.Length <= zip.Length; i++)
        {
            if (zip.AsSpan(i, 4).SequenceEqual(signature) && zip.AsSpan(i + 46, nameBytes.Length).SequenceEqual(nameBytes))
            {
                BitConverter.GetBytes(size).CopyTo(zip, i + 24);
                return;
            }
        }

        Assert.Fail($"no central directory entry named {name}");
    }

    [Fact]
    public void AFileHoldingADictionaryIsNamedAsSuch()
    {
        byte[] pickle = [0x80, 2, (byte)'}', (byte)'.'];
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle), "dict.pt"));
        Assert.Contains("dictionary", e.Message, StringComparison.Ordinal);
    }

    private static MemoryStream Zip(byte[] pickle, byte[]? storage = null, bool withStorage = true)
    {
        var s = new MemoryStream();
        using (var zip = new ZipArchive(s, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "archive/data.pkl", pickle);
            if (storage is not null || withStorage)
            {
                Add(zip, "archive/data/0", storage ?? new byte[64]);
            }
        }

        s.Position = 0;
        return s;
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        using Stream e = zip.CreateEntry(name).Open();
        e.Write(bytes);
    }

    private static byte[] ReadEntry(ZipArchive zip, string name)
    {
        using Stream s = zip.GetEntry(name)!.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}

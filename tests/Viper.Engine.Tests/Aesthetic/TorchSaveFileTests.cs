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
    [InlineData("torch._utils", "_rebuild_parameter")]
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
        Assert.Contains("holds 60 bytes", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<TorchSaveFormatException>(() => TorchSaveFile.ReadTensor(Zip(pickle, withStorage: false), "nostorage.pt"));
        Assert.Contains("storage '0'", e.Message, StringComparison.Ordinal);
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

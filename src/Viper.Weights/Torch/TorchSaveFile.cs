using System.IO.Compression;
using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// Reads one tensor from the zip archive <c>torch.save</c> writes (PyTorch ≥ 1.6): <c>&lt;name&gt;/data.pkl</c> describes
/// the tensor, <c>&lt;name&gt;/data/&lt;key&gt;</c> holds each storage's little-endian bytes. The pickle runs on
/// <see cref="RestrictedUnpickler"/>, which builds tensors and nothing else, so a crafted file can never run code. The
/// storage's saved device (<c>cpu</c>, <c>cuda:0</c>) is ignored: the bytes are the same.
/// </summary>
public static class TorchSaveFile
{
    /// <summary>The pickle of a saved tensor is a few hundred bytes; anything past this is not one.</summary>
    private const long MaxPickleBytes = 1 << 20;

    public static TensorData ReadTensor(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return ReadTensor(stream, path);
    }

    public static TensorData ReadTensor(Stream stream, string source)
    {
        using ZipArchive zip = OpenZip(stream, source);
        ZipArchiveEntry pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            ?? throw new TorchSaveFormatException(source, "the archive has no <name>/data.pkl: not a file torch.save wrote");
        if (pickle.Length > MaxPickleBytes)
        {
            throw new TorchSaveFormatException(source, $"data.pkl is {pickle.Length} bytes; a saved tensor's is a few hundred");
        }

        string root = pickle.FullName[..pickle.FullName.IndexOf('/', StringComparison.Ordinal)];
        PickledTensor tensor = RestrictedUnpickler.LoadTensor(ReadAll(pickle, source), source);
        ZipArchiveEntry storage = zip.GetEntry($"{root}/data/{tensor.StorageKey}")
            ?? throw new TorchSaveFormatException(source, $"storage '{tensor.StorageKey}' the pickle refers to is not in the archive");
        return new TensorData(Path.GetFileNameWithoutExtension(source), tensor.DType, tensor.Shape, tensor.Slice(ReadAll(storage, source), source));
    }

    private static ZipArchive OpenZip(Stream stream, string source)
    {
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new TorchSaveFormatException(source, "not a zip archive: torch.save has written zip files since PyTorch 1.6 (re-save older files with a current PyTorch)", e);
        }
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, string source)
    {
        try
        {
            using Stream s = entry.Open();
            using var buffer = new MemoryStream(checked((int)Math.Min(entry.Length, int.MaxValue)));
            s.CopyTo(buffer);
            if (buffer.Length != entry.Length)
            {
                throw new TorchSaveFormatException(source, $"{entry.FullName} holds {buffer.Length} bytes, the archive says {entry.Length}");
            }

            return buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new TorchSaveFormatException(source, $"{entry.FullName} is corrupt: {e.Message}", e);
        }
    }
}

/// <summary>What the pickle says about a tensor: its storage, dtype, offset (elements), shape and strides.</summary>
internal sealed record PickledTensor(string StorageKey, DType DType, long StorageElements, long Offset, int[] Size, long[] Stride)
{
    public Shape Shape => new(Size);

    /// <summary>The tensor's bytes out of its storage; only contiguous layouts (what torch.save of a fresh tensor gives).</summary>
    public byte[] Slice(byte[] storage, string source)
    {
        int elementSize = DType.SizeInBytes();
        if (storage.LongLength != StorageElements * elementSize)
        {
            throw new TorchSaveFormatException(source, $"storage '{StorageKey}' holds {storage.LongLength} bytes; {StorageElements} {DType} elements need {StorageElements * elementSize}");
        }

        long expected = 1;
        for (int i = Size.Length - 1; i >= 0; i--)
        {
            if (Size[i] != 1 && Stride[i] != expected)
            {
                throw new TorchSaveFormatException(source, $"the tensor's strides ({string.Join(", ", Stride)}) are not contiguous for size ({string.Join(", ", Size)}); save tensor.contiguous()");
            }

            expected *= Size[i];
        }

        if (Offset < 0 || Offset + expected > StorageElements)
        {
            throw new TorchSaveFormatException(source, $"the tensor (offset {Offset}, {expected} elements) does not fit its storage of {StorageElements}");
        }

        return storage.AsSpan(checked((int)(Offset * elementSize)), checked((int)(expected * elementSize))).ToArray();
    }
}

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
        PickledTensor tensor = RestrictedUnpickler.LoadTensor(ReadPrefix(pickle, pickle.Length, source), source);
        ZipArchiveEntry storage = zip.GetEntry($"{root}/data/{tensor.StorageKey}")
            ?? throw new TorchSaveFormatException(source, $"storage '{tensor.StorageKey}' the pickle refers to is not in the archive");
        // Every declared size is checked before anything is inflated, and only the bytes the tensor uses are: a small
        // file that claims (or inflates to) a huge storage costs nothing.
        long used = tensor.BytesUsed(storage, source);
        byte[] bytes = ReadPrefix(storage, used, source);
        return new TensorData(Path.GetFileNameWithoutExtension(source), tensor.DType, tensor.Shape, tensor.Slice(bytes));
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

    /// <summary>The first <paramref name="count"/> bytes of an entry (its declared length at most), read in bounded steps.</summary>
    private static byte[] ReadPrefix(ZipArchiveEntry entry, long count, string source)
    {
        byte[] buffer = new byte[count];
        try
        {
            using Stream s = entry.Open();
            int read = 0;
            while (read < buffer.Length && s.Read(buffer, read, buffer.Length - read) is > 0 and var n)
            {
                read += n;
            }

            if (read != buffer.Length)
            {
                throw new TorchSaveFormatException(source, $"{entry.FullName} ends after {read} bytes; the archive says {entry.Length}");
            }

            return buffer;
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

    /// <summary>Tensors this reader takes whole into memory: 2 GiB (an embedding or a CLIP vector is kilobytes).</summary>
    public const long MaxTensorBytes = int.MaxValue;

    /// <summary>
    /// Checks the pickle's layout against the storage entry before it is inflated — the entry's declared size must be the
    /// storage's element count × element size, the layout contiguous, the tensor inside the storage and under
    /// <see cref="MaxTensorBytes"/> — and returns how many leading bytes of the storage the tensor needs.
    /// </summary>
    public long BytesUsed(ZipArchiveEntry storage, string source)
    {
        int elementSize = DType.SizeInBytes();
        string entry = storage.FullName;
        if (StorageElements < 0 || StorageElements > long.MaxValue / elementSize || storage.Length != StorageElements * elementSize)
        {
            throw new TorchSaveFormatException(source, $"{entry} is declared as {storage.Length} bytes; the pickle's {StorageElements} {DType} elements need {(double)StorageElements * elementSize:0} — not a file torch.save wrote");
        }

        long expected = 1;
        for (int i = Size.Length - 1; i >= 0; i--)
        {
            if (Size[i] < 0)
            {
                throw new TorchSaveFormatException(source, $"the tensor's size ({string.Join(", ", Size)}) has a negative dimension");
            }

            if (Size[i] != 1 && Stride[i] != expected)
            {
                throw new TorchSaveFormatException(source, $"the tensor's strides ({string.Join(", ", Stride)}) are not contiguous for size ({string.Join(", ", Size)}); save tensor.contiguous()");
            }

            expected = expected > long.MaxValue / Math.Max(Size[i], 1) ? long.MaxValue : expected * Size[i];
        }

        if (Offset < 0 || expected > StorageElements || Offset > StorageElements - expected)
        {
            throw new TorchSaveFormatException(source, $"the tensor (offset {Offset}, {expected} elements) does not fit its storage {entry} of {StorageElements}");
        }

        long used = (Offset + expected) * elementSize;
        if (used > MaxTensorBytes)
        {
            throw new TorchSaveFormatException(source, $"{entry}: a tensor of {used} bytes is more than this reader takes ({MaxTensorBytes} bytes)");
        }

        return used;
    }

    /// <summary>The tensor's bytes out of the storage's first <see cref="BytesUsed"/> bytes.</summary>
    public byte[] Slice(byte[] head)
    {
        int elementSize = DType.SizeInBytes();
        return head.AsSpan(checked((int)(Offset * elementSize))).ToArray();
    }
}

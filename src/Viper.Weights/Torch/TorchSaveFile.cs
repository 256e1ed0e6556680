using System.IO.Compression;
using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// Reads one saved tensor (an aesthetic embedding, a CLIP vector) from a <c>torch.save</c> archive through
/// <see cref="TorchArchive"/>: nothing in the file is ever run.
/// </summary>
public static class TorchSaveFile
{
    public static TensorData ReadTensor(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return ReadTensor(stream, path);
    }

    public static TensorData ReadTensor(Stream stream, string source)
    {
        using TorchArchive archive = TorchArchive.Open(stream, source);
        return archive.Value is PickledTensor tensor
            ? new TensorData(Path.GetFileNameWithoutExtension(source), tensor.DType, tensor.Shape, archive.Read(tensor))
            : throw new TorchSaveFormatException(source, $"the file holds {RestrictedUnpickler.Describe(archive.Value)}, not one tensor");
    }
}

/// <summary>What the pickle says about a tensor: its storage, dtype, offset (elements), shape and strides.</summary>
public sealed record PickledTensor(string StorageKey, DType DType, long StorageElements, long Offset, int[] Size, long[] Stride)
{
    public Shape Shape => new(Size);

    /// <summary>Tensors this reader takes whole into memory: 2 GiB (an embedding or a CLIP vector is kilobytes).</summary>
    public const long MaxTensorBytes = int.MaxValue;

    /// <summary>
    /// Checks the pickle's layout against the storage entry before it is inflated — the entry's declared size must be the
    /// storage's element count × element size, the layout contiguous, the tensor inside the storage and under
    /// <see cref="MaxTensorBytes"/> — and returns how many leading bytes of the storage the tensor needs.
    /// </summary>
    internal long BytesUsed(ZipArchiveEntry storage, string source)
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
    internal byte[] Slice(byte[] head)
    {
        int elementSize = DType.SizeInBytes();
        return head.AsSpan(checked((int)(Offset * elementSize))).ToArray();
    }
}

using System.IO.Compression;

namespace Viper.Weights.Torch;

/// <summary>
/// The zip archive <c>torch.save</c> writes (PyTorch ≥ 1.6): <c>&lt;name&gt;/data.pkl</c> describes the saved value,
/// <c>&lt;name&gt;/data/&lt;key&gt;</c> holds each storage's little-endian bytes. The pickle runs on
/// <see cref="RestrictedUnpickler"/>, which builds tensors, dictionaries and plain values and nothing else, so a crafted
/// file can never run code. Tensors are read lazily, one storage at a time (a 4 GB .ckpt is never held whole). The
/// storage's saved device (<c>cpu</c>, <c>cuda:0</c>) is ignored: the bytes are the same.
/// </summary>
public sealed class TorchArchive : IDisposable
{
    /// <summary>A state dict of a few thousand tensors pickles to well under this; anything larger is not one.</summary>
    private const long MaxPickleBytes = 64 << 20;

    private readonly Stream _stream;
    private readonly ZipArchive _zip;
    private readonly string _root;

    private TorchArchive(Stream stream, ZipArchive zip, string root, object? value, string source)
    {
        (_stream, _zip, _root, Value, Source) = (stream, zip, root, value, source);
    }

    public string Source { get; }

    /// <summary>
    /// The saved value: <see cref="PickledTensor"/>s, <c>Dictionary&lt;object, object?&gt;</c>, lists, tuples
    /// (<c>object?[]</c>), strings, longs, doubles, booleans and nulls.
    /// </summary>
    public object? Value { get; }

    /// <summary>A short description of an unpickled value, for messages ("a dictionary (3 entries)", "a tensor (2, 8) F32").</summary>
    public static string Describe(object? value) => RestrictedUnpickler.Describe(value);

    public static TorchArchive Open(string path) => Open(File.OpenRead(path), path, ownsStream: true);

    public static TorchArchive Open(Stream stream, string source, bool ownsStream = false)
    {
        ZipArchive? zip = null;
        try
        {
            zip = OpenZip(stream, source);
            ZipArchiveEntry pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                ?? throw new TorchSaveFormatException(source, "the archive has no <name>/data.pkl: not a file torch.save wrote");
            if (pickle.Length > MaxPickleBytes)
            {
                throw new TorchSaveFormatException(source, $"data.pkl is {pickle.Length} bytes; a saved tensor's or state dict's is far smaller");
            }

            string root = pickle.FullName[..pickle.FullName.IndexOf('/', StringComparison.Ordinal)];
            object? value = RestrictedUnpickler.Load(ReadPrefix(pickle, pickle.Length, source), source);
            return new TorchArchive(ownsStream ? stream : Stream.Null, zip, root, value, source);
        }
        catch
        {
            zip?.Dispose();
            if (ownsStream)
            {
                stream.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// The bytes of <paramref name="tensor"/>. Every declared size is checked before anything is inflated, and only the
    /// bytes the tensor uses are: a small file that claims (or inflates to) a huge storage costs nothing.
    /// </summary>
    public byte[] Read(PickledTensor tensor)
    {
        ZipArchiveEntry storage = _zip.GetEntry($"{_root}/data/{tensor.StorageKey}")
            ?? throw new TorchSaveFormatException(Source, $"storage '{tensor.StorageKey}' the pickle refers to is not in the archive");
        long used = tensor.BytesUsed(storage, Source);
        lock (_zip)
        {
            return tensor.Slice(ReadPrefix(storage, used, Source));
        }
    }

    public void Dispose()
    {
        _zip.Dispose();
        _stream.Dispose();
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

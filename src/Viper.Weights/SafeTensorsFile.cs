using System.IO.MemoryMappedFiles;
using Viper.Runtime;

namespace Viper.Weights;

/// <summary>
/// A validated, memory-mapped safetensors file. Tensor bytes are handed out as zero-copy spans over
/// the mapping; they stay valid until the file is disposed.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly byte[]? _bytes;
    private readonly Dictionary<string, TensorEntry> _byName;

    private SafeTensorsFile(string path, SafeTensorsHeader header, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePointer, byte[]? bytes)
    {
        Path = path;
        Header = header;
        _map = map;
        _view = view;
        _base = basePointer;
        _bytes = bytes;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    public SafeTensorsHeader Header { get; }

    public IReadOnlyList<TensorEntry> Tensors => Header.Tensors;

    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    public static SafeTensorsFile Open(string path)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SafeTensorsFormatException(path, $"cannot open: {e.Message}", e);
        }

        long length = stream.Length;
        if (length < 8)
        {
            stream.Dispose();
            throw new SafeTensorsFormatException(path, $"file is {length} bytes, shorter than the 8-byte header length");
        }

        MemoryMappedFile map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            var whole = new ReadOnlySpan<byte>(p, (int)Math.Min(length, int.MaxValue));
            SafeTensorsHeader header = SafeTensorsHeader.Parse(whole, length, path);
            return new SafeTensorsFile(path, header, map, view, p, null);
        }
        catch
        {
            ReleaseView(view);
            map.Dispose();
            throw;
        }
    }

    /// <summary>Validates an in-memory file image (the bytes are kept, not copied).</summary>
    public static SafeTensorsFile FromBytes(byte[] contents, string source = "<memory>")
    {
        SafeTensorsHeader header = SafeTensorsHeader.Parse(contents, contents.Length, source);
        return new SafeTensorsFile(source, header, null, null, null, contents);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorEntry Entry(string name) =>
        _byName.TryGetValue(name, out TensorEntry? e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");

    /// <summary>The tensor's raw little-endian bytes, without copying.</summary>
    public ReadOnlySpan<byte> Bytes(TensorEntry entry)
    {
        long start = Header.DataStart + entry.Begin;
        if (_bytes is not null)
        {
            return _bytes.AsSpan((int)start, (int)entry.ByteLength);
        }

        ObjectDisposedException.ThrowIf(_view is null || _view.SafeMemoryMappedViewHandle.IsClosed, this);
        if (entry.ByteLength > int.MaxValue)
        {
            throw new NotSupportedException($"{Path}: tensor '{entry.Name}' is {entry.ByteLength} bytes, over the 2 GiB span limit");
        }

        return new ReadOnlySpan<byte>(_base + start, (int)entry.ByteLength);
    }

    public ReadOnlySpan<byte> Bytes(string name) => Bytes(Entry(name));

    /// <summary>Uploads a tensor to a backend as it is stored.</summary>
    public Tensor Load(IBackend backend, string name)
    {
        TensorEntry e = Entry(name);
        return backend.FromHost(Bytes(e), e.Shape, e.DType);
    }

    public void Dispose()
    {
        ReleaseView(_view);
        _map?.Dispose();
    }

    private static void ReleaseView(MemoryMappedViewAccessor? view)
    {
        if (view is not null && !view.SafeMemoryMappedViewHandle.IsClosed)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
    }
}

using System.Runtime.InteropServices;
using System.Text.Json;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// Host copies of reference tensors (f32 / i64) from a safetensors file. Parses the header itself, so files that also
/// hold dtypes the engine does not load (the randn references' float64 draws) can still be read.
/// </summary>
public sealed class RefTensors : IDisposable
{
    private readonly byte[] _bytes;
    private readonly Dictionary<string, (string DType, int[] Shape, int Start, int End)> _entries = [];
    private readonly int _dataStart;

    public RefTensors(string path)
    {
        _bytes = File.ReadAllBytes(path);
        int headerLength = (int)BitConverter.ToInt64(_bytes, 0);
        _dataStart = 8 + headerLength;
        using JsonDocument header = JsonDocument.Parse(_bytes.AsMemory(8, headerLength));
        foreach (JsonProperty p in header.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__"))
        {
            int[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt32()).ToArray();
            _entries[p.Name] = (p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(), offsets[0], offsets[1]);
        }
    }

    public IEnumerable<string> Names => _entries.Keys;

    public bool Contains(string name) => _entries.ContainsKey(name);

    public string DType(string name) => _entries[name].DType;

    public int[] Shape(string name) => _entries[name].Shape;

    public float[] Floats(string name) => MemoryMarshal.Cast<byte, float>(Raw(name, "F32")).ToArray();

    public double[] Doubles(string name) => MemoryMarshal.Cast<byte, double>(Raw(name, "F64")).ToArray();

    public long[] Longs(string name) => MemoryMarshal.Cast<byte, long>(Raw(name, "I64")).ToArray();

    public byte[] Bytes(string name) => Raw(name, "U8").ToArray();

    public void Dispose()
    {
    }

    private ReadOnlySpan<byte> Raw(string name, string dtype)
    {
        if (!_entries.TryGetValue(name, out var e))
        {
            throw new KeyNotFoundException($"reference tensor '{name}' is missing");
        }

        Assert.True(e.DType == dtype, $"reference tensor '{name}' is {e.DType}, read as {dtype}");
        return _bytes.AsSpan(_dataStart + e.Start, e.End - e.Start);
    }
}

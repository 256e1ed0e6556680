using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Viper.Runtime;

namespace Viper.Weights.Torch;

/// <summary>
/// A pickle machine that understands the opcodes <c>torch.save</c> emits for tensors and state dicts (protocol 2) and
/// resolves only the globals they need: <c>torch._utils._rebuild_tensor_v2</c>, <c>torch._utils._rebuild_parameter</c>
/// (an <c>nn.Parameter</c> is rebuilt as its plain tensor), the typed storages and <c>collections.OrderedDict</c>
/// (whose <c>_metadata</c> attribute, set by BUILD, is dropped). Any other global (<c>os.system</c>, <c>builtins.eval</c>, …) is refused where it is
/// named, before anything could call it; nothing here ever calls back into arbitrary code, the result is plain data.
/// Mirrors the allow-list idea of PyTorch's <c>torch.load(weights_only=True)</c> (torch/_weights_only_unpickler.py).
/// </summary>
internal sealed class RestrictedUnpickler
{
    private static readonly Dictionary<string, DType> Storages = new(StringComparer.Ordinal)
    {
        ["torch.FloatStorage"] = DType.F32,
        ["torch.HalfStorage"] = DType.F16,
        ["torch.BFloat16Storage"] = DType.BF16,
        ["torch.IntStorage"] = DType.I32,
        ["torch.LongStorage"] = DType.I64,
        ["torch.ByteStorage"] = DType.U8,
        ["torch.BoolStorage"] = DType.Bool,
    };

    private const string RebuildTensor = "torch._utils._rebuild_tensor_v2";
    private const string RebuildParameter = "torch._utils._rebuild_parameter";
    private const string OrderedDict = "collections.OrderedDict";

    private static readonly object Mark = new();

    private readonly byte[] _data;
    private readonly string _source;
    private readonly List<object?> _stack = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;

    private RestrictedUnpickler(byte[] data, string source) => (_data, _source) = (data, source);

    private sealed record Global(string Name);

    private sealed record StorageRef(string Key, DType DType, long Elements);

    /// <summary>
    /// The pickled value as plain data: <see cref="PickledTensor"/>s, <c>Dictionary&lt;object, object?&gt;</c>, lists,
    /// tuples (<c>object?[]</c>), strings, longs, doubles, booleans and nulls.
    /// </summary>
    public static object? Load(byte[] pickle, string source) => new RestrictedUnpickler(pickle, source).Run();

    public static string Describe(object? v) => v switch
    {
        null => "None",
        Global g => g.Name,
        object?[] t => $"a tuple of {t.Length}",
        Dictionary<object, object?> d => $"a dictionary ({d.Count} entries)",
        PickledTensor t => $"a tensor {t.Shape} {t.DType}",
        string => "a string",
        long or double or bool => v.ToString()!,
        _ => v.GetType().Name,
    };

    private object? Run()
    {
        while (true)
        {
            byte op = Byte();
            switch (op)
            {
                case 0x80: Byte(); break; // PROTO
                case 0x95: Bytes(8); break; // FRAME: a length hint
                case (byte)'.': return _stack.Count == 1 ? Pop() : throw Bad($"STOP with {_stack.Count} values on the stack");
                case (byte)'(': Push(Mark); break;
                case (byte)'c': Push(Resolve($"{Line()}.{Line()}")); break;
                case 0x93: { string name = PopString(); Push(Resolve($"{PopString()}.{name}")); break; }
                case (byte)'X': Push(Utf8(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))))); break;
                case 0x8c: Push(Utf8(Byte())); break;
                case 0x8d: Push(Utf8(checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8))))); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Bytes(Byte()))); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Bytes(4))); break;
                case (byte)'K': Push((long)Byte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))); break;
                case 0x8a: Push(Long1()); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Bytes(8))); break;
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case (byte)'t': Push(PopToMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { object? b = Pop(); Push(new[] { Pop(), b }); break; }
                case 0x87: { object? c = Pop(), b = Pop(); Push(new[] { Pop(), b, c }); break; }
                case (byte)']': Push(new List<object?>()); break;
                case (byte)'a': { object? item = Pop(); Top<List<object?>>("APPEND").Add(item); break; }
                case (byte)'e': { List<object?> items = PopToMark(); Top<List<object?>>("APPENDS").AddRange(items); break; }
                case (byte)'}': Push(new Dictionary<object, object?>()); break;
                case (byte)'s': { object? value = Pop(); SetItem(Pop(), value); break; }
                case (byte)'u': SetItems(PopToMark()); break;
                case (byte)'q': _memo[Byte()] = Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break;
                case (byte)'h': Push(Memo(Byte())); break;
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4)))); break;
                case (byte)'Q': Push(PersistentStorage(Pop())); break;
                case (byte)'R': { object? args = Pop(); Push(Call(Pop(), args)); break; }
                case (byte)'b': Build(Pop()); break;
                default: throw Bad($"pickle opcode 0x{op:x2} at byte {_pos - 1} is not one torch.save writes for a tensor");
            }
        }
    }

    private object Resolve(string name)
    {
        if (name is RebuildTensor or RebuildParameter or OrderedDict || Storages.ContainsKey(name))
        {
            return new Global(name);
        }

        throw Bad($"the pickle asks for the global '{name}'; only a saved tensor's or state dict's ({RebuildTensor}, {RebuildParameter}, the torch.*Storage types, {OrderedDict}) are allowed, so the file was refused without running it");
    }

    /// <summary>torch's persistent id for a storage: ('storage', storage type, key, location, numel).</summary>
    private StorageRef PersistentStorage(object? pid)
    {
        if (pid is object?[] { Length: 5 } t && t[0] is "storage" && t[1] is Global g && Storages.TryGetValue(g.Name, out DType dtype)
            && t[2] is string key && t[3] is string && t[4] is long elements && elements >= 0 && key.All(char.IsAsciiLetterOrDigit))
        {
            return new StorageRef(key, dtype, elements);
        }

        throw Bad($"a persistent id that is not a tensor storage: {Describe(pid)}");
    }

    private object Call(object? callable, object? args)
    {
        if (args is not object?[] a)
        {
            throw Bad($"REDUCE with arguments {Describe(args)}");
        }

        switch (callable)
        {
            case Global { Name: OrderedDict } when a.Length == 0:
                return new Dictionary<object, object?>();
            case Global { Name: RebuildTensor } when a.Length is 6 or 7 && a[0] is StorageRef s && a[1] is long offset
                && a[2] is object?[] size && a[3] is object?[] stride && size.Length == stride.Length && a[4] is bool:
                return new PickledTensor(s.Key, s.DType, s.Elements, offset, size.Select(Dimension).ToArray(), stride.Select(v => v is long l ? l : throw Bad("a stride is not an integer")).ToArray());
            case Global { Name: RebuildParameter } when a.Length == 3 && a[0] is PickledTensor t && a[1] is bool && a[2] is Dictionary<object, object?> { Count: 0 }:
                return t; // nn.Parameter(data, requires_grad, backward_hooks): only the data matters here
            default:
                throw Bad($"REDUCE of {Describe(callable)} with {a.Length} arguments is not how torch.save rebuilds a tensor");
        }
    }

    /// <summary>BUILD: a state dict's OrderedDict gets its <c>_metadata</c> attribute this way; attributes are dropped, nothing is called.</summary>
    private void Build(object? state)
    {
        if (Peek() is not Dictionary<object, object?> || state is not Dictionary<object, object?>)
        {
            throw Bad($"BUILD of {Describe(Peek())} with {Describe(state)} is not how torch.save writes a state dict");
        }
    }

    private int Dimension(object? v) => v is long l && l is >= 0 and <= int.MaxValue ? (int)l : throw Bad($"a tensor dimension {Describe(v)} is not a size");

    private void SetItem(object? key, object? value) => Top<Dictionary<object, object?>>("SETITEM")[key ?? throw Bad("a dictionary key is None")] = value;

    private void SetItems(List<object?> items)
    {
        if (items.Count % 2 != 0)
        {
            throw Bad("SETITEMS with an odd number of values");
        }

        for (int i = 0; i < items.Count; i += 2)
        {
            SetItem(items[i], items[i + 1]);
        }
    }

    private long Long1()
    {
        int n = Byte();
        return n <= 8 ? (long)new BigInteger(Bytes(n), isUnsigned: false, isBigEndian: false) : throw Bad($"an integer of {n} bytes");
    }

    private object? Memo(long key) => _memo.TryGetValue(key, out object? v) ? v : throw Bad($"memo entry {key} was never stored");

    private T Top<T>(string op) where T : class => Peek() as T ?? throw Bad($"{op} on {Describe(Peek())}");

    private List<object?> PopToMark()
    {
        int mark = _stack.LastIndexOf(Mark);
        if (mark < 0)
        {
            throw Bad("a MARK is missing");
        }

        List<object?> items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Push(object? value) => _stack.Add(value);

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Bad("the stack is empty");

    private object? Pop()
    {
        object? v = Peek();
        _stack.RemoveAt(_stack.Count - 1);
        return v == Mark ? throw Bad("a MARK where a value was expected") : v;
    }

    private string PopString() => Pop() as string ?? throw Bad("STACK_GLOBAL without module and name strings");

    private string Utf8(int length) => Encoding.UTF8.GetString(Bytes(length));

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0)
        {
            throw Bad("the pickle ends early (truncated file)");
        }

        if (end - _pos > 256)
        {
            throw Bad("a GLOBAL name longer than 256 characters");
        }

        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private byte Byte() => Bytes(1)[0];

    private ReadOnlySpan<byte> Bytes(int n)
    {
        if (n < 0 || _pos + n > _data.Length)
        {
            throw Bad("the pickle ends early (truncated file)");
        }

        ReadOnlySpan<byte> s = _data.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    private TorchSaveFormatException Bad(string problem) => new(_source, problem);
}

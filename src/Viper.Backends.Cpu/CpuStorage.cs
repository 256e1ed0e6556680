using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// Tensor memory rented from the backend's <see cref="BufferPool"/>; disposing it returns the memory. A Q4_0 weight's
/// bytes may be held in the decode layout (<see cref="EightRowQ4"/>) from its first decode on: <see cref="Pointer"/>
/// restores the plain layout before anyone else reads or writes them, and <see cref="EightRowQ4Pointer"/> is the decode's
/// way in. Changing the layout rewrites the bytes in place, so it must not overlap another op on the same tensor; ops
/// on one backend run one at a time, as every other backend op already assumes.
/// </summary>
internal sealed unsafe class CpuStorage : TensorStorage
{
    private readonly BufferPool.Rental _memory;
    private readonly Lock _layoutGate = new();
    private Layout _layout;
    private (int N, int K) _packedShape;

    public CpuStorage(CpuBackend backend, BufferPool.Rental memory, long sizeInBytes)
        : base(backend, sizeInBytes)
    {
        _memory = memory;
    }

    private enum Layout
    {
        /// <summary>As written.</summary>
        Plain,

        /// <summary>Q4_0 rows eight at a time, for <see cref="_packedShape"/>.</summary>
        EightRowQ4,

        /// <summary>Plain, and <see cref="EightRowQ4.Pack"/> refused it (a non-finite scale); tried again after the next write.</summary>
        Unpackable,
    }

    public override bool IsDisposed => _memory.IsReturned;

    /// <summary>The bytes in the plain layout.</summary>
    public byte* Pointer
    {
        get
        {
            if (_layout != Layout.Plain)
            {
                lock (_layoutGate)
                {
                    Restore(); // any caller may write: an unpackable matrix may be packable after
                }
            }

            return _memory.Pointer;
        }
    }

    /// <summary>
    /// The bytes in the eight-row Q4_0 layout for this whole storage as an (n, k) matrix, packed now if they are plain;
    /// null when the matrix cannot take it (see <see cref="EightRowQ4.Pack"/>).
    /// </summary>
    public byte* EightRowQ4Pointer(int n, int k)
    {
        lock (_layoutGate)
        {
            if (_layout == Layout.EightRowQ4 && _packedShape != (n, k))
            {
                Restore();
            }

            if (_layout == Layout.Plain)
            {
                _layout = EightRowQ4.Pack(_memory.Pointer, n, k, LoopOptions) ? Layout.EightRowQ4 : Layout.Unpackable;
                _packedShape = (n, k);
            }

            return _layout == Layout.EightRowQ4 ? _memory.Pointer : null;
        }
    }

    /// <summary>Whether the bytes are in the eight-row Q4_0 layout now (prefill reads rows from it without restoring the plain one).</summary>
    public bool IsEightRowQ4 => _layout == Layout.EightRowQ4;

    /// <summary>The bytes as they are now, whatever the layout: for readers that know it (<see cref="IsEightRowQ4"/>).</summary>
    public byte* RawPointer => _memory.Pointer;

    /// <summary>The backend's threads, for rewriting the layout.</summary>
    private ParallelOptions LoopOptions => ((CpuBackend)Backend).LoopOptions;

    /// <summary>Back to the plain layout (under <see cref="_layoutGate"/>).</summary>
    private void Restore()
    {
        if (_layout == Layout.EightRowQ4)
        {
            EightRowQ4.Unpack(_memory.Pointer, _packedShape.N, _packedShape.K, LoopOptions);
        }

        _layout = Layout.Plain;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _memory.Dispose();
        }
    }
}

using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// Tensor memory rented from the backend's <see cref="BufferPool"/>; disposing it returns the memory. A weight's bytes
/// may be held in a decode layout from its first decode on (a Q4_0 matrix eight rows interleaved, <see cref="EightRowQ4"/>;
/// a long-K matrix of bf16, f16, int8, fp8 or Q8_0 in chunked tiles, <see cref="ChunkedRows"/>): <see cref="Pointer"/>
/// restores the plain layout before anyone else reads or writes them, and <see cref="EightRowQ4Pointer"/> and
/// <see cref="ChunkedRowsPointer"/> are the decode's ways in. Changing the layout rewrites the bytes in place, so it must
/// not overlap another op on the same tensor; ops on one backend run one at a time, as every other backend op already
/// assumes.
/// </summary>
internal sealed unsafe class CpuStorage : TensorStorage
{
    private readonly BufferPool.Rental _memory;
    private readonly Lock _layoutGate = new();
    private Layout _layout;
    private (int N, int K, int BlockBytes) _packedShape;

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

        /// <summary>Tiles of rows with K in chunks, for <see cref="_packedShape"/>.</summary>
        ChunkedRows,

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
            RestoreUnless(Layout.EightRowQ4, (n, k, 0));
            if (_layout == Layout.Plain)
            {
                _layout = EightRowQ4.Pack(_memory.Pointer, n, k, LoopOptions) ? Layout.EightRowQ4 : Layout.Unpackable;
                _packedShape = (n, k, 0);
            }

            return _layout == Layout.EightRowQ4 ? _memory.Pointer : null;
        }
    }

    /// <summary>The bytes in the chunked-tile layout for this whole storage as an (n, k) matrix of <paramref name="blockBytes"/> bytes per 32 values, rearranged now if they are plain.</summary>
    public byte* ChunkedRowsPointer(int n, int k, int blockBytes)
    {
        lock (_layoutGate)
        {
            RestoreUnless(Layout.ChunkedRows, (n, k, blockBytes));
            if (_layout != Layout.ChunkedRows)
            {
                ChunkedRows.Pack(_memory.Pointer, n, k, blockBytes, LoopOptions);
                (_layout, _packedShape) = (Layout.ChunkedRows, (n, k, blockBytes));
            }

            return _memory.Pointer;
        }
    }

    /// <summary>Whether the bytes are in the eight-row Q4_0 layout now (prefill reads rows from it without restoring the plain one).</summary>
    public bool IsEightRowQ4 => _layout == Layout.EightRowQ4;

    /// <summary>Whether the bytes are in the chunked-tile layout now (prefill reads rows from it as it does from the eight-row one).</summary>
    public bool IsChunkedRows => _layout == Layout.ChunkedRows;

    /// <summary>The bytes as they are now, whatever the layout: for readers that know it (<see cref="IsEightRowQ4"/>, <see cref="IsChunkedRows"/>).</summary>
    public byte* RawPointer => _memory.Pointer;

    /// <summary>The backend's threads, for rewriting the layout.</summary>
    private ParallelOptions LoopOptions => ((CpuBackend)Backend).LoopOptions;

    /// <summary>Back to the plain layout from a decode layout other than <paramref name="wanted"/> for <paramref name="shape"/> (under <see cref="_layoutGate"/>).</summary>
    private void RestoreUnless(Layout wanted, (int N, int K, int BlockBytes) shape)
    {
        if (_layout is Layout.EightRowQ4 or Layout.ChunkedRows && (_layout != wanted || _packedShape != shape))
        {
            Restore();
        }
    }

    /// <summary>Back to the plain layout (under <see cref="_layoutGate"/>).</summary>
    private void Restore()
    {
        if (_layout == Layout.EightRowQ4)
        {
            EightRowQ4.Unpack(_memory.Pointer, _packedShape.N, _packedShape.K, LoopOptions);
        }
        else if (_layout == Layout.ChunkedRows)
        {
            ChunkedRows.Unpack(_memory.Pointer, _packedShape.N, _packedShape.K, _packedShape.BlockBytes, LoopOptions);
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

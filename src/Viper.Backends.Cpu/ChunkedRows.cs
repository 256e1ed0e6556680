using System.Runtime.InteropServices;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// A weight with a long K (bf16, f16, int8, fp8, or Q8_0 blocks of 32 values), held for the decode in tiles of
/// <see cref="TileRows"/> rows, K in chunks of <see cref="ChunkValues"/> values within a tile: chunk 0 of every row of
/// the tile, then chunk 1 of every row, and so on. The streaming GEMV (<see cref="StreamingGemv"/>) reads each tile once,
/// in order, and each chunk of the f32 activations (16 KB) serves 64 rows while it is in L1. Row by row over a long K
/// it did not: at K = 14336 the activations are 57 KB, more than L1 (48 KB), and came from L2 for every row. Measured on
/// a 2-vCPU EPYC, cold 4096×14336 GEMVs: int8 3.2 ms → 1.35–1.5 ms and bf16 3.9 → 2.6 ms with the activations confined
/// to 4 KiB (wrong results, the same weight bytes), against 1.4 and 2.5–2.7 ms for the 14336×4096 matrices of the same
/// size. A tile occupies the bytes its rows occupy in the plain layout; only K above <see cref="ChunkValues"/> is held so.
/// </summary>
internal static unsafe class ChunkedRows
{
    /// <summary>Rows per tile: a GEMV's work item.</summary>
    public const int TileRows = 64;

    /// <summary>Values per chunk of a row (16 KB of f32 activations).</summary>
    public const int ChunkValues = 4096;

    private const int Block = 32;

    /// <summary>Whether an (n, k) weight of <paramref name="format"/> is held so for its decode.</summary>
    public static bool Applies(DType format, int n, int k) =>
        format is DType.BF16 or DType.F16 or DType.I8 or DType.F8E4M3 or DType.F8E5M2 or DType.Q8_0 && n > 0 && k > ChunkValues && k % Block == 0;

    /// <summary>The bytes of 32 values of <paramref name="format"/>: the unit every offset here is counted in (a Q8_0 block).</summary>
    public static int BlockBytes(DType format) => (int)format.BytesFor(Block);

    public static int Tiles(int n) => (n + TileRows - 1) / TileRows;

    /// <summary>Tile <paramref name="tile"/> of an (n, k) matrix of <paramref name="blockBytes"/> bytes per 32 values: its first byte, and its rows in <paramref name="rows"/>.</summary>
    public static byte* Tile(byte* matrix, int n, int k, int blockBytes, int tile, out int rows)
    {
        rows = Math.Min(TileRows, n - (tile * TileRows));
        return matrix + ((long)tile * TileRows * (k / Block) * blockBytes);
    }

    /// <summary>The chunk of row <paramref name="row"/> of a tile of <paramref name="rows"/> rows that starts at value <paramref name="start"/> (a multiple of <see cref="ChunkValues"/>).</summary>
    public static byte* ChunkAt(byte* tile, int rows, int k, int blockBytes, int row, int start) =>
        tile + ((((long)start * rows) + ((long)row * ChunkLength(k, start))) / Block * blockBytes);

    /// <summary>Values in the chunk that starts at <paramref name="start"/>.</summary>
    public static int ChunkLength(int k, int start) => Math.Min(ChunkValues, k - start);

    /// <summary>
    /// One tile of an (n, k) matrix in this layout against m ≤ <see cref="StreamingGemv.MaxRows"/> activation rows (a decode
    /// GEMV's work item), streamed once in its order: chunk by chunk, each row's chunk through <paramref name="dots"/>,
    /// every output the sum of its chunks' dot products added in K order. Then y[j·n + c] = sum · scale(c) +
    /// (addToY ? y[j·n + c] : 0), where scale(c) is 1 without scales, the one scale, or scale[c].
    /// </summary>
    public static void Gemv<TDots>(TDots dots, byte* w, int n, int k, int blockBytes, int item, int m, float* scale, int scaleCount, float* y, bool addToY)
        where TDots : struct, IChunkDots
    {
        byte* tile = Tile(w, n, k, blockBytes, item, out int rows);
        float* sums = stackalloc float[TileRows * StreamingGemv.MaxRows];
        float* part = stackalloc float[StreamingGemv.MaxRows];
        for (int start = 0; start < k; start += ChunkValues)
        {
            int length = ChunkLength(k, start);
            for (int r = 0; r < rows; r++)
            {
                dots.Dots(ChunkAt(tile, rows, k, blockBytes, r, start), start, length, part);
                for (int j = 0; j < m; j++)
                {
                    sums[(r * m) + j] = start == 0 ? part[j] : sums[(r * m) + j] + part[j];
                }
            }
        }

        for (int r = 0, c = item * TileRows; r < rows; r++, c++)
        {
            float s = scale is null ? 1f : scale[scaleCount == 1 ? 0 : c];
            for (int j = 0; j < m; j++)
            {
                float* at = y + ((long)j * n) + c;
                *at = (sums[(r * m) + j] * s) + (addToY ? *at : 0f);
            }
        }
    }

    /// <summary>Rewrites a plain matrix in place into this layout.</summary>
    public static void Pack(byte* data, int n, int k, int blockBytes, ParallelOptions parallel) => Regroup(data, n, k, blockBytes, parallel, toChunks: true);

    /// <summary>Rewrites a matrix in this layout in place back into the plain one.</summary>
    public static void Unpack(byte* data, int n, int k, int blockBytes, ParallelOptions parallel) => Regroup(data, n, k, blockBytes, parallel, toChunks: false);

    /// <summary>
    /// Each tile copied aside (one tile's bytes per thread, in native memory freed at the end: as managed arrays of up to
    /// 2 MB they were large-object garbage that outlived the loading of a 32-layer stack) and its rows' chunks moved
    /// between the two layouts.
    /// </summary>
    private static void Regroup(byte* data, int n, int k, int blockBytes, ParallelOptions parallel, bool toChunks)
    {
        long rowBytes = (long)(k / Block) * blockBytes;
        Parallel.For(0, Tiles(n), parallel, () => (nint)NativeMemory.Alloc((nuint)(TileRows * rowBytes)), (t, _, copy) =>
        {
            byte* aside = (byte*)copy;
            byte* tile = Tile(data, n, k, blockBytes, t, out int rows);
            Buffer.MemoryCopy(tile, aside, rows * rowBytes, rows * rowBytes);
            for (int r = 0; r < rows; r++)
            {
                for (int start = 0; start < k; start += ChunkValues)
                {
                    long bytes = (long)ChunkLength(k, start) / Block * blockBytes;
                    byte* plain = (toChunks ? aside : tile) + (r * rowBytes) + ((long)start / Block * blockBytes);
                    byte* chunk = ChunkAt(toChunks ? tile : aside, rows, k, blockBytes, r, start);
                    Buffer.MemoryCopy(toChunks ? plain : chunk, toChunks ? chunk : plain, bytes, bytes);
                }
            }

            return copy;
        }, copy => NativeMemory.Free((void*)copy));
    }

    /// <summary>A GEMV's dot products of one weight row's chunk with the same chunk of each activation row.</summary>
    public interface IChunkDots
    {
        /// <summary>dots[j] = Σ chunk[i]·x_j[start + i] over the chunk's <paramref name="length"/> values, for every activation row j.</summary>
        void Dots(byte* chunk, int start, int length, float* dots);
    }
}

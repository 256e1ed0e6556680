using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// A weight of one value per element (bf16, f16, int8, fp8) with a long K, held for the decode in tiles of
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

    /// <summary>Whether an (n, k) weight of <paramref name="format"/> is held so for its decode.</summary>
    public static bool Applies(DType format, int n, int k) =>
        format is DType.BF16 or DType.F16 or DType.I8 or DType.F8E4M3 or DType.F8E5M2 && n > 0 && k > ChunkValues && k % 32 == 0;

    public static int Tiles(int n) => (n + TileRows - 1) / TileRows;

    /// <summary>Tile <paramref name="tile"/> of an (n, k) matrix of <paramref name="element"/>-byte values: its first byte, and its rows in <paramref name="rows"/>.</summary>
    public static byte* Tile(byte* matrix, int n, int k, int element, int tile, out int rows)
    {
        rows = Math.Min(TileRows, n - (tile * TileRows));
        return matrix + ((long)tile * TileRows * k * element);
    }

    /// <summary>The chunk of row <paramref name="row"/> of a tile of <paramref name="rows"/> rows that starts at value <paramref name="start"/> (a multiple of <see cref="ChunkValues"/>).</summary>
    public static byte* ChunkAt(byte* tile, int rows, int k, int element, int row, int start) =>
        tile + ((((long)start * rows) + ((long)row * ChunkLength(k, start))) * element);

    /// <summary>Values in the chunk that starts at <paramref name="start"/>.</summary>
    public static int ChunkLength(int k, int start) => Math.Min(ChunkValues, k - start);

    /// <summary>Rewrites a plain matrix in place into this layout.</summary>
    public static void Pack(byte* data, int n, int k, int element, ParallelOptions parallel) => Regroup(data, n, k, element, parallel, toChunks: true);

    /// <summary>Rewrites a matrix in this layout in place back into the plain one.</summary>
    public static void Unpack(byte* data, int n, int k, int element, ParallelOptions parallel) => Regroup(data, n, k, element, parallel, toChunks: false);

    /// <summary>Each tile copied aside (one tile's bytes per thread) and its rows' chunks moved between the two layouts.</summary>
    private static void Regroup(byte* data, int n, int k, int element, ParallelOptions parallel, bool toChunks)
    {
        long rowBytes = (long)k * element;
        Parallel.For(0, Tiles(n), parallel, () => new byte[TileRows * rowBytes], (t, _, copy) =>
        {
            byte* tile = Tile(data, n, k, element, t, out int rows);
            new ReadOnlySpan<byte>(tile, (int)(rows * rowBytes)).CopyTo(copy);
            fixed (byte* aside = copy)
            {
                for (int r = 0; r < rows; r++)
                {
                    for (int start = 0; start < k; start += ChunkValues)
                    {
                        long bytes = (long)ChunkLength(k, start) * element;
                        byte* plain = (toChunks ? aside : tile) + (r * rowBytes) + ((long)start * element);
                        byte* chunk = ChunkAt(toChunks ? tile : aside, rows, k, element, r, start);
                        Buffer.MemoryCopy(toChunks ? plain : chunk, toChunks ? chunk : plain, bytes, bytes);
                    }
                }
            }

            return copy;
        }, _ => { });
    }
}

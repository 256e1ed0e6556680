using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>
/// Q4_0 weights with eight rows interleaved, the CPU backend's decode layout (the idea of ggml-cpu's repacked
/// block_q4_0x8; the byte order is ours). A decode GEMV over llama.cpp's plain layout spends most of its instructions on
/// each 18-byte block's scale and reduction; interleaved, one pass produces eight rows' dot products at once (one
/// integer dot product instruction per four values of eight rows, the eight scales converted and applied as one vector)
/// and still reads a single stream per thread. Measured on a 2-vCPU EPYC, a 14336×4096 matrix: about 24 → 38 GB/s on
/// 4 KiB pages, 56 GB/s on huge pages against a 55–57 GB/s read.
/// <para>
/// Layout: rows 8g…8g+7 form group g; <see cref="TileGroups"/> consecutive groups form a tile (the last may have fewer),
/// which occupies the same bytes as its rows do in the plain layout. Within a tile, K runs in chunks of
/// <see cref="ChunkBlocks"/> blocks: chunk 0 of every group of the tile, then chunk 1 of every group, and so on, so a
/// GEMV streaming the tile once meets each chunk of the activations eight times in a row while it is in L1. (Whole rows
/// of a long K did not: the 4096×14336 down projection streamed at 32–35 GB/s where 14336×4096 reached 42–44, and
/// with the activations confined to 4 KiB, wrong results but the same bytes of weights, it reached 42 too.) With
/// K ≤ 4096 a tile is its groups one after the other. Block b of a group is 144 bytes: the eight rows' f16 scales (row
/// order), then four 32-byte chunks; byte 4·r + j of chunk t holds row r's value 4t + j in its low nibble and value
/// 16 + 4t + j in its high nibble (the plain block keeps value j and 16 + j in byte j).
/// </para>
/// </summary>
internal static unsafe class EightRowQ4
{
    public const int Rows = 8;
    public const int BlockBytes = 18;
    public const int GroupBlockBytes = Rows * BlockBytes;

    /// <summary>Groups of eight rows per tile: a GEMV's work item.</summary>
    public const int TileGroups = 8;

    /// <summary>Blocks of 32 values per chunk of K within a tile (4096 values: 5 KB of Q8_0 activations).</summary>
    public const int ChunkBlocks = 128;

    private const int Block = 32;

    /// <summary>An (n, k) Q4_0 matrix this layout can hold: whole groups of eight rows.</summary>
    public static bool Fits(int n, int k) => n > 0 && n % Rows == 0 && k % Block == 0;

    /// <summary>Tiles of an n-row matrix.</summary>
    public static int Tiles(int n) => (n / Rows + TileGroups - 1) / TileGroups;

    /// <summary>Tile <paramref name="tile"/> of an (n, k) matrix: its first byte, and its groups in <paramref name="groups"/>.</summary>
    public static byte* Tile(byte* matrix, int n, int k, int tile, out int groups)
    {
        groups = Math.Min(TileGroups, (n / Rows) - (tile * TileGroups));
        return matrix + ((long)tile * TileGroups * (k / Block) * GroupBlockBytes);
    }

    /// <summary>Block <paramref name="b"/> of group <paramref name="g"/> of a tile of <paramref name="groups"/> groups and <paramref name="blocks"/> blocks per row; blocks of one chunk follow each other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* BlockAt(byte* tile, int groups, int blocks, int g, int b)
    {
        int first = b / ChunkBlocks * ChunkBlocks, chunk = Math.Min(ChunkBlocks, blocks - first);
        return tile + ((((long)first * groups) + ((long)g * chunk) + (b - first)) * GroupBlockBytes);
    }

    /// <summary>
    /// Rewrites the matrix in place into this layout, or leaves it untouched and answers false when a block scale is
    /// infinite or NaN (the decode converts scales by bit arithmetic that is exact for finite values only).
    /// </summary>
    public static bool Pack(byte* data, int n, int k, ParallelOptions parallel)
    {
        if (!AllScalesFinite(data, n, k, parallel))
        {
            return false;
        }

        Regroup(data, n, k, parallel, static (plain, tile, groups, blocks) =>
        {
            for (int g = 0; g < groups; g++)
            {
                for (int r = 0; r < Rows; r++)
                {
                    byte* row = plain + ((((long)g * Rows) + r) * blocks * BlockBytes);
                    for (int b = 0; b < blocks; b++)
                    {
                        PackBlock(row + (b * BlockBytes), BlockAt(tile, groups, blocks, g, b), r);
                    }
                }
            }
        });
        return true;
    }

    /// <summary>Rewrites a packed matrix in place back into the plain layout.</summary>
    public static void Unpack(byte* data, int n, int k, ParallelOptions parallel) =>
        Regroup(data, n, k, parallel, static (tile, plain, groups, blocks) =>
        {
            for (int row = 0; row < groups * Rows; row++)
            {
                CopyTileRow(tile, groups, blocks, row, plain + ((long)row * blocks * BlockBytes));
            }
        });

    /// <summary>Row <paramref name="row"/> of a packed (n, k) matrix, as plain blocks.</summary>
    public static void CopyRow(byte* matrix, int n, int k, int row, byte* destination)
    {
        byte* tile = Tile(matrix, n, k, row / Rows / TileGroups, out int groups);
        CopyTileRow(tile, groups, k / Block, row % (Rows * TileGroups), destination);
    }

    /// <summary>Row <paramref name="row"/> (0 … 8·groups − 1) of a tile, as plain blocks.</summary>
    private static void CopyTileRow(byte* tile, int groups, int blocks, int row, byte* destination)
    {
        int g = row / Rows, r = row % Rows;
        for (int b = 0; b < blocks; b++)
        {
            byte* packed = BlockAt(tile, groups, blocks, g, b), plain = destination + (b * BlockBytes);
            *(ushort*)plain = ((ushort*)packed)[r];
            for (int t = 0; t < 4; t++)
            {
                *(uint*)(plain + 2 + (4 * t)) = *(uint*)(packed + 16 + (32 * t) + (4 * r));
            }
        }
    }

    /// <summary>Whether no block scale is infinite or NaN (f16 exponent all ones), checked a group per work item (a pass over the whole matrix).</summary>
    private static bool AllScalesFinite(byte* data, int n, int k, ParallelOptions parallel)
    {
        long groupBlocks = (long)Rows * (k / Block);
        int nonFinite = 0;
        Parallel.For(0, n / Rows, parallel, (g, state) =>
        {
            byte* block = data + (g * groupBlocks * BlockBytes);
            for (long i = 0; i < groupBlocks; i++, block += BlockBytes)
            {
                if ((*(ushort*)block & 0x7C00) == 0x7C00)
                {
                    Interlocked.Exchange(ref nonFinite, 1);
                    state.Stop();
                    return;
                }
            }
        });
        return nonFinite == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBlock(byte* plain, byte* packed, int row)
    {
        ((ushort*)packed)[row] = *(ushort*)plain;
        for (int t = 0; t < 4; t++)
        {
            *(uint*)(packed + 16 + (32 * t) + (4 * row)) = *(uint*)(plain + 2 + (4 * t));
        }
    }

    /// <summary>
    /// Each tile copied aside (one tile's bytes per thread, in native memory freed at the end: as managed arrays of up to
    /// 0.5 MB they were large-object garbage that outlived the loading of a 32-layer stack) and rewritten from the copy by
    /// <paramref name="rewrite"/>(copy, tile, groups, blocks).
    /// </summary>
    private static void Regroup(byte* data, int n, int k, ParallelOptions parallel, Rewrite rewrite)
    {
        int blocks = k / Block;
        long tileBytes = (long)TileGroups * blocks * GroupBlockBytes;
        Parallel.For(0, Tiles(n), parallel, () => (nint)NativeMemory.Alloc((nuint)tileBytes), (t, _, copy) =>
        {
            byte* tile = Tile(data, n, k, t, out int groups);
            long bytes = (long)groups * blocks * GroupBlockBytes;
            Buffer.MemoryCopy(tile, (byte*)copy, bytes, bytes);
            rewrite((byte*)copy, tile, groups, blocks);
            return copy;
        }, copy => NativeMemory.Free((void*)copy));
    }

    private delegate void Rewrite(byte* source, byte* destination, int groups, int blocks);
}

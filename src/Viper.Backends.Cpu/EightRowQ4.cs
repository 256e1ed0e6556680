using System.Runtime.CompilerServices;

namespace Viper.Backends.Cpu;

/// <summary>
/// Q4_0 weights with eight rows interleaved, the CPU backend's decode layout (the idea of ggml-cpu's repacked
/// block_q4_0x8; the byte order is ours). A decode GEMV over llama.cpp's plain layout spends most of its instructions on
/// each 18-byte block's scale and reduction; interleaved, one pass produces eight rows' dot products at once (one
/// integer dot product instruction per four values of eight rows, the eight scales converted and applied as one vector)
/// and still reads a single stream per thread. Measured on a 2-vCPU EPYC, a 14336×4096 matrix: about 24 → 38 GB/s on
/// 4 KiB pages, 56 GB/s on huge pages against a 55–57 GB/s read.
/// <para>
/// Layout: rows 8g…8g+7 (group g) occupy the same bytes they do in the plain layout, block b of the group at
/// byte 144·b of it: the eight blocks' f16 scales (row order), then four 32-byte chunks. Byte 4·r + j of chunk t holds
/// row r's value 4t + j in its low nibble and value 16 + 4t + j in its high nibble (the plain block keeps value j and
/// 16 + j in byte j). A row view starting at a multiple of 8 rows therefore finds its groups at the usual offsets.
/// </para>
/// </summary>
internal static unsafe class EightRowQ4
{
    public const int Rows = 8;
    public const int BlockBytes = 18;
    public const int GroupBlockBytes = Rows * BlockBytes;
    private const int Block = 32;

    /// <summary>An (n, k) Q4_0 matrix this layout can hold: whole groups of eight rows.</summary>
    public static bool Fits(int n, int k) => n > 0 && n % Rows == 0 && k % Block == 0;

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

        Regroup(data, n, k, parallel, static (plain, packed, blocks) =>
        {
            for (int b = 0; b < blocks; b++)
            {
                for (int r = 0; r < Rows; r++)
                {
                    PackBlock(plain + (r * (long)blocks * BlockBytes) + (b * BlockBytes), packed + ((long)b * GroupBlockBytes), r);
                }
            }
        });
        return true;
    }

    /// <summary>Rewrites a packed matrix in place back into the plain layout.</summary>
    public static void Unpack(byte* data, int n, int k, ParallelOptions parallel) =>
        Regroup(data, n, k, parallel, static (packed, plain, blocks) =>
        {
            for (int r = 0; r < Rows; r++)
            {
                CopyRow(packed, r, blocks, plain + (r * (long)blocks * BlockBytes));
            }
        });

    /// <summary>Row <paramref name="row"/> (0–7) of the group at <paramref name="group"/>, as plain blocks.</summary>
    public static void CopyRow(byte* group, int row, int blocks, byte* destination)
    {
        for (int b = 0; b < blocks; b++)
        {
            byte* packed = group + ((long)b * GroupBlockBytes), plain = destination + (b * BlockBytes);
            *(ushort*)plain = ((ushort*)packed)[row];
            for (int t = 0; t < 4; t++)
            {
                *(uint*)(plain + 2 + (4 * t)) = *(uint*)(packed + 16 + (32 * t) + (4 * row));
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

    /// <summary>Each group copied aside (one group's bytes per thread) and rewritten from the copy by <paramref name="rewrite"/>(copy, group, blocks).</summary>
    private static void Regroup(byte* data, int n, int k, ParallelOptions parallel, Rewrite rewrite)
    {
        int blocks = k / Block;
        long groupBytes = (long)blocks * GroupBlockBytes;
        Parallel.For(0, n / Rows, parallel, () => new byte[groupBytes], (g, _, copy) =>
        {
            byte* group = data + (g * groupBytes);
            fixed (byte* aside = copy)
            {
                new ReadOnlySpan<byte>(group, (int)groupBytes).CopyTo(copy);
                rewrite(aside, group, blocks);
            }

            return copy;
        }, _ => { });
    }

    private delegate void Rewrite(byte* source, byte* destination, int blocks);
}

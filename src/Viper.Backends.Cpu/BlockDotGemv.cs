using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// The decode-time linear over Q8_0/Q4_0 weights as llama.cpp computes it (ggml-cpu's ggml_vec_dot_q8_0_q8_0 and
/// ggml_vec_dot_q4_0_q8_0): each row of x is quantized to Q8_0 blocks (32 values, scale amax/127, codes rounded half away
/// from zero; the scale kept in f32), and every weight block meets its activation block in an integer dot product
/// (AVX-VNNI vpdpbusd, else AVX2 vpmaddubsw, on |w| and x with w's sign), scaled by the two block scales. That is about
/// half the instructions of decoding the weights to f32 and makes these formats memory-bound on a few cores. The price
/// is the activation rounding: |y − x·dequant(W)ᵀ| ≤ Σ_blocks (d_x/2)·Σ|w| (plus f32 accumulation). Columns are split as
/// <see cref="StreamingGemv"/>'s, so results do not depend on the thread count. Q4_0 held eight rows interleaved
/// (<see cref="EightRowQ4"/>) gets eight rows per pass (<see cref="EightRows"/>).
/// </summary>
internal static unsafe class BlockDotGemv
{
    private const int Block = 32;
    private const int ColumnsPerItem = 64;

    public static bool Applies(DType format) => format is DType.Q8_0 or DType.Q4_0 && Avx2.IsSupported;

    /// <param name="layout">How <paramref name="w"/> is held: plain, Q4_0 eight rows interleaved (<see cref="EightRowQ4"/>), or Q8_0 in chunked tiles (<see cref="ChunkedRows"/>).</param>
    public static void Run(DType format, byte* w, WeightLayout layout, float* x, int m, int k, float* y, int n, bool addToY, SpinningWorkers workers)
    {
        int blocks = k / Block;
        sbyte[] codes = new sbyte[m * k];
        float[] scales = new float[m * blocks];
        int[] offsets = new int[m * blocks]; // Q4_0: −8·Σx of each block, the start of its dot product
        for (int r = 0; r < m; r++)
        {
            QuantizeRow(x + ((long)r * k), codes.AsSpan(r * k, k), scales.AsSpan(r * blocks, blocks), offsets.AsSpan(r * blocks, blocks));
        }

        long rowBytes = format.BytesFor(k);
        float* half = HalfTable.Pointer;
        int items = layout switch
        {
            WeightLayout.EightRowQ4 => EightRowQ4.Tiles(n),
            WeightLayout.ChunkedRows => ChunkedRows.Tiles(n),
            _ => (n + ColumnsPerItem - 1) / ColumnsPerItem,
        };
        workers.Run(items, item =>
        {
            fixed (sbyte* xq = codes)
            fixed (float* xd = scales)
            fixed (int* xo = offsets)
            {
                if (layout == WeightLayout.EightRowQ4)
                {
                    Tile(w, item, xq, xd, xo, m, k, y, n, addToY);
                    return;
                }

                if (layout == WeightLayout.ChunkedRows)
                {
                    ChunkedRows.Gemv(new Q8_0ChunkDots(xq, xd, xo, m, k, half), w, n, k, ChunkedRows.BlockBytes(format), item, m, null, 0, y, addToY);
                    return;
                }

                for (int c = item * ColumnsPerItem, end = Math.Min(n, c + ColumnsPerItem); c < end; c++)
                {
                    byte* row = w + (c * rowBytes);
                    for (int r = 0; r < m; r++)
                    {
                        sbyte* xr = xq + ((long)r * k);
                        float* dr = xd + ((long)r * blocks);
                        int* ro = xo + ((long)r * blocks);
                        float dot = format == DType.Q8_0 ? Row<Q8_0Blocks>(row, xr, dr, ro, blocks, half) : Row<Q4_0Blocks>(row, xr, dr, ro, blocks, half);
                        float* at = y + ((long)r * n) + c;
                        *at = dot + (addToY ? *at : 0f);
                    }
                }
            }
        });
    }

    /// <summary>
    /// One tile of an <see cref="EightRowQ4"/> matrix (up to 64 rows), streamed once in its order: chunk by chunk of K,
    /// each chunk of every group against the same chunk of each activation row, the partial sums kept per group and row.
    /// </summary>
    private static void Tile(byte* w, int item, sbyte* xq, float* xd, int* xo, int m, int k, float* y, int n, bool addToY)
    {
        int blocks = k / Block;
        byte* tile = EightRowQ4.Tile(w, n, k, item, out int groups);
        Vector256<float>* sums = stackalloc Vector256<float>[EightRowQ4.TileGroups * StreamingGemv.MaxRows];
        for (int first = 0; first < blocks; first += EightRowQ4.ChunkBlocks)
        {
            int chunk = Math.Min(EightRowQ4.ChunkBlocks, blocks - first);
            for (int g = 0; g < groups; g++)
            {
                byte* group = EightRowQ4.BlockAt(tile, groups, blocks, g, first);
                for (int r = 0; r < m; r++)
                {
                    long at = ((long)r * blocks) + first;
                    Vector256<float> dots = EightRows(group, xq + (at * Block), xd + at, xo + at, chunk);
                    sums[(g * m) + r] = first == 0 ? dots : sums[(g * m) + r] + dots;
                }
            }
        }

        for (int g = 0; g < groups; g++)
        {
            for (int r = 0; r < m; r++)
            {
                float* at = y + ((long)r * n) + (((item * EightRowQ4.TileGroups) + g) * EightRowQ4.Rows);
                (addToY ? sums[(g * m) + r] + Vector256.Load(at) : sums[(g * m) + r]).Store(at);
            }
        }
    }

    /// <summary>A chunk of a Q8_0 weight row in chunked tiles against the same blocks of each activation row (<see cref="ChunkedRows.Gemv"/>).</summary>
    private readonly struct Q8_0ChunkDots(sbyte* xq, float* xd, int* xo, int m, int k, float* half) : ChunkedRows.IChunkDots
    {
        public void Dots(byte* chunk, int start, int length, float* dots)
        {
            for (int r = 0; r < m; r++)
            {
                long at = (((long)r * k) + start) / Block;
                dots[r] = Row<Q8_0Blocks>(chunk, xq + (at * Block), xd + at, xo + at, length / Block, half);
            }
        }
    }

    /// <summary>
    /// llama.cpp's quantize_row_q8_0 for activations, with the scale kept in f32, and each block's offset −8·Σcodes (the
    /// start of its Q4_0 dot product). Vectorised, a block at a time; rounding half away from zero as roundf: the
    /// truncated value plus the sign where the dropped fraction is at least one half (exact, unlike floor(|v| + ½)).
    /// A block holding a NaN takes the scalar path, which makes its scale NaN as MaxMagnitude does.
    /// </summary>
    internal static void QuantizeRow(float* x, Span<sbyte> codes, Span<float> scales, Span<int> offsets)
    {
        fixed (sbyte* c = codes)
        {
            for (int b = 0; b < scales.Length; b++)
            {
                float* v = x + (b * Block);
                Vector256<float> v0 = Vector256.Load(v), v1 = Vector256.Load(v + 8), v2 = Vector256.Load(v + 16), v3 = Vector256.Load(v + 24);
                Vector256<float> ordered = Vector256.Equals(v0, v0) & Vector256.Equals(v1, v1) & Vector256.Equals(v2, v2) & Vector256.Equals(v3, v3);
                if (ordered.AsUInt32() != Vector256<uint>.AllBitsSet)
                {
                    (scales[b], offsets[b]) = QuantizeBlock(new ReadOnlySpan<float>(v, Block), codes.Slice(b * Block, Block));
                    continue;
                }

                float amax = HorizontalMax(Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3))));
                float d = amax / 127, id = d != 0 ? 1f / d : 0f;
                var inverse = Vector256.Create(id);
                Vector256<int> q0 = RoundAway(v0 * inverse), q1 = RoundAway(v1 * inverse), q2 = RoundAway(v2 * inverse), q3 = RoundAway(v3 * inverse);
                Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)).Store(c + (b * Block));
                scales[b] = d;
                offsets[b] = -8 * Vector256.Sum((q0 + q1) + (q2 + q3));
            }
        }
    }

    /// <summary>One block one value at a time (the NaN case): its scale and offset.</summary>
    private static (float Scale, int Offset) QuantizeBlock(ReadOnlySpan<float> v, Span<sbyte> codes)
    {
        float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(v));
        float d = amax / 127, id = d != 0 ? 1f / d : 0f;
        int sum = 0;
        for (int j = 0; j < Block; j++)
        {
            codes[j] = (sbyte)MathF.Round(v[j] * id, MidpointRounding.AwayFromZero);
            sum += codes[j];
        }

        return (d, -8 * sum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RoundAway(Vector256<float> q)
    {
        Vector256<float> whole = Vector256.Truncate(q);
        Vector256<float> half = Vector256.GreaterThanOrEqual(Vector256.Abs(q - whole), Vector256.Create(0.5f));
        Vector256<float> step = Vector256.ConditionalSelect(Vector256.LessThan(q, Vector256<float>.Zero), Vector256.Create(-1f), Vector256<float>.One);
        return Vector256.ConvertToInt32(whole + (step & half));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalMax(Vector256<float> v)
    {
        Vector128<float> m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        return MathF.Max(m.ToScalar(), m.GetElement(1));
    }

    /// <summary>
    /// One row's dot product, block by block, with four accumulators: with one, each block waited for the previous
    /// block's FMA (4 cycles), which capped a core at one block per 4 cycles (llama.cpp's AVX2 loop has that limit).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the hot loop: optimized at once, not after tiering (a benchmark's first calls)
    private static float Row<TBlock>(byte* w, sbyte* xq, float* xd, int* xo, int blocks, float* half)
        where TBlock : struct, IBlockDot
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* end = w + (blocks / 4 * 4 * TBlock.Bytes);
        for (; w < end; w += 4 * TBlock.Bytes, xq += 4 * Block, xd += 4, xo += 4)
        {
            a0 = Step<TBlock>(w, xq, xd[0], xo, half, a0);
            a1 = Step<TBlock>(w + TBlock.Bytes, xq + Block, xd[1], xo + 1, half, a1);
            a2 = Step<TBlock>(w + (2 * TBlock.Bytes), xq + (2 * Block), xd[2], xo + 2, half, a2);
            a3 = Step<TBlock>(w + (3 * TBlock.Bytes), xq + (3 * Block), xd[3], xo + 3, half, a3);
        }

        for (int b = 0; b < blocks % 4; b++)
        {
            a0 = Step<TBlock>(w + (b * TBlock.Bytes), xq + (b * Block), xd[b], xo + b, half, a0);
        }

        return Vector256.Sum((a0 + a1) + (a2 + a3));
    }

    /// <summary>
    /// Eight rows' dot products over consecutive blocks of a group of <see cref="EightRowQ4"/>: per block, eight integer dot products of four
    /// nibbles with four broadcast activation codes give the eight rows' block sums in eight lanes (started at −8·Σx), and
    /// one vector of the eight f16 scales (by bits: finite, as packing ensured) times the activation scale weighs them.
    /// Two float accumulators, alternating by block, keep the FMA latency off the loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the hot loop: optimized at once, not after tiering (a benchmark's first calls)
    private static Vector256<float> EightRows(byte* group, sbyte* xq, float* xd, int* xo, int blocks)
    {
        Vector256<float> even = default, odd = default;
        byte* p = group;
        for (int b = 0; b < blocks; b++, p += EightRowQ4.GroupBlockBytes, xq += Block)
        {
            Vector256<int> sums = AvxVnni.IsSupported ? SumsWithVnni(p, xq, xo[b]) : SumsInInt16(p, xq, xo[b]);
            Vector256<float> scales = HalfBits(p) * Vector256.Create(xd[b]);
            if ((b & 1) == 0)
            {
                even = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), scales, even);
            }
            else
            {
                odd = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), scales, odd);
            }
        }

        return even + odd;
    }

    /// <summary>A group block's eight row sums (started at <paramref name="offset"/>, −8·Σx) in AVX-VNNI dot products, one per code vector and nibble half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SumsWithVnni(byte* p, sbyte* xq, int offset)
    {
        Vector256<byte> low = Vector256.Create((byte)0x0F);
        Vector256<int> lows = Vector256<int>.Zero, highs = Vector256.Create(offset);
        for (int t = 0; t < 4; t++)
        {
            Vector256<byte> codes = Vector256.Load(p + 16 + (32 * t));
            lows = UnsignedDot(lows, codes & low, Vector256.Create(*(int*)(xq + (4 * t))).AsSByte());
            highs = UnsignedDot(highs, HighNibbles(codes), Vector256.Create(*(int*)(xq + 16 + (4 * t))).AsSByte());
        }

        return lows + highs;
    }

    /// <summary>
    /// A group block's eight row sums without VNNI: the pair products of vpmaddubsw added in int16 over the block's eight
    /// code vectors, widened once. A pair is at most 2·15·127 = 3810 and a lane adds eight pairs (30480 &lt; 2¹⁵), so
    /// nothing saturates and the sums are the same integers as widening each product vector (three instructions each).
    /// With the high nibbles in one GF2P8AFFINEQB that is about 30 instead of 46 vector instructions per block: a core
    /// decoded 34 → 37–41 GB/s of in-cache Q4_0 on a Zen 4 EPYC (which has no AVX-VNNI).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SumsInInt16(byte* p, sbyte* xq, int offset)
    {
        Vector256<byte> low = Vector256.Create((byte)0x0F);
        Vector256<short> lows = default, highs = default;
        for (int t = 0; t < 4; t++)
        {
            Vector256<byte> codes = Vector256.Load(p + 16 + (32 * t));
            lows += Avx2.MultiplyAddAdjacent(codes & low, Vector256.Create(*(int*)(xq + (4 * t))).AsSByte());
            highs += Avx2.MultiplyAddAdjacent(HighNibbles(codes), Vector256.Create(*(int*)(xq + 16 + (4 * t))).AsSByte());
        }

        return Avx2.MultiplyAddAdjacent(lows + highs, Vector256<short>.One) + Vector256.Create(offset);
    }

    /// <summary>Each byte's high nibble (0..15): one GF2P8AFFINEQB (the bit matrix of a 4-bit right shift), else a shift and a mask.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> HighNibbles(Vector256<byte> codes) =>
        Gfni.V256.IsSupported
            ? Gfni.V256.GaloisFieldAffineTransform(codes, Vector256.Create(0x1020408000000000UL).AsByte(), 0)
            : (codes.AsUInt16() >> 4).AsByte() & Vector256.Create((byte)0x0F);

    /// <summary>
    /// Eight finite f16 values → f32: sign-extended, the sign and the magnitude bits moved into f32 position, times 2¹¹²
    /// (the exponent bias difference; exact for normals and subnormals alike).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfBits(byte* eight) =>
        ((Avx2.ConvertToVector256Int32((short*)eight) << 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(5.192297e33f);

    /// <summary>acc + (the block's integer dot product) · its f16 scale · the activation block's scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step<TBlock>(byte* block, sbyte* xq, float xd, int* xo, float* half, Vector256<float> acc)
        where TBlock : struct, IBlockDot =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(TBlock.Dot(block, xq, xo)), Vector256.Create(half[*(ushort*)block] * xd), acc);

    /// <summary>A weight block format (its f16 scale first) and its integer dot product with a Q8_0 activation block.</summary>
    private interface IBlockDot
    {
        static abstract int Bytes { get; }

        /// <summary>Σ q·x in eight int32 lanes; <paramref name="xo"/> is the activation block's precomputed offset.</summary>
        static abstract Vector256<int> Dot(byte* block, sbyte* xq, int* xo);
    }

    private struct Q8_0Blocks : IBlockDot
    {
        public static int Bytes => 34;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(byte* block, sbyte* xq, int* xo) => BlockDotGemv.Dot(Vector256.Load((sbyte*)(block + 2)), Vector256.Load(xq));
    }

    /// <summary>
    /// Q4_0: the nibbles q (0..15) are already the unsigned operand of the integer dot product, so Σ(q − 8)·x is computed as
    /// Σ q·x − 8·Σx, the second term precomputed per activation block and fed in as the dot product's starting value.
    /// </summary>
    private struct Q4_0Blocks : IBlockDot
    {
        public static int Bytes => 18;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(byte* block, sbyte* xq, int* xo)
        {
            // The 16 packed bytes in both halves, the upper half shifted by 4 bits: one mask then leaves the low nibbles
            // (values 0..15) below the high ones (16..31), in three instructions instead of five.
            Vector256<uint> packed = Avx2.BroadcastVector128ToVector256((uint*)(block + 2));
            Vector256<byte> nibbles = Avx2.ShiftRightLogicalVariable(packed, Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte() & Vector256.Create((byte)0x0F);
            return UnsignedDot(Vector256.CreateScalar(*xo), nibbles, Vector256.Load(xq));
        }
    }

    /// <summary>start + Σ q·x in eight int32 lanes for unsigned q ≤ 127.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> UnsignedDot(Vector256<int> start, Vector256<byte> q, Vector256<sbyte> x) =>
        AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(start, q, x)
            : start + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, x), Vector256<short>.One);

    /// <summary>Σ w·x in eight int32 lanes: |w| (unsigned) times x carrying w's sign, four products per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<sbyte> w, Vector256<sbyte> x)
    {
        Vector256<byte> magnitude = Avx2.Abs(w);
        Vector256<sbyte> signed = Avx2.Sign(x, w);
        return AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, magnitude, signed)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, signed), Vector256<short>.One); // pairs fit int16: |w| ≤ 128, |x| ≤ 127
    }
}

/// <summary>How a decode GEMV's weight is held in memory (<see cref="BlockDotGemv.Run"/>).</summary>
internal enum WeightLayout
{
    /// <summary>Rows one after the other, as stored.</summary>
    Plain,

    /// <summary>Q4_0 eight rows interleaved, in tiles (<see cref="Cpu.EightRowQ4"/>).</summary>
    EightRowQ4,

    /// <summary>Tiles of 64 rows with K in chunks (<see cref="Cpu.ChunkedRows"/>).</summary>
    ChunkedRows,
}

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
/// <see cref="StreamingGemv"/>'s, so results do not depend on the thread count.
/// </summary>
internal static unsafe class BlockDotGemv
{
    private const int Block = 32;
    private const int ColumnsPerItem = 64;

    public static bool Applies(DType format) => format is DType.Q8_0 or DType.Q4_0 && Avx2.IsSupported;

    public static void Run(DType format, byte* w, float* x, int m, int k, float* y, int n, bool addToY, ParallelOptions parallel)
    {
        int blocks = k / Block;
        sbyte[] codes = new sbyte[m * k];
        float[] scales = new float[m * blocks];
        var offsets = new Vector256<int>[m * blocks]; // Q4_0: −8·Σx of each block in lane 0, the start of its dot product
        for (int r = 0; r < m; r++)
        {
            QuantizeRow(new ReadOnlySpan<float>(x + ((long)r * k), k), codes.AsSpan(r * k, k), scales.AsSpan(r * blocks, blocks));
            for (int b = 0; b < blocks; b++)
            {
                int sum = 0;
                foreach (sbyte c in codes.AsSpan((r * k) + (b * Block), Block))
                {
                    sum += c;
                }

                offsets[(r * blocks) + b] = Vector256.CreateScalar(-8 * sum);
            }
        }

        long rowBytes = format.BytesFor(k);
        int items = (n + ColumnsPerItem - 1) / ColumnsPerItem;
        Parallel.For(0, items, parallel, item =>
        {
            fixed (sbyte* xq = codes)
            fixed (float* xd = scales)
            fixed (Vector256<int>* xo = offsets)
            {
                int first = item * ColumnsPerItem, end = Math.Min(n, first + ColumnsPerItem);
                for (int c = first; c < end; c++)
                {
                    byte* row = w + (c * rowBytes);
                    for (int r = 0; r < m; r++)
                    {
                        float dot = format == DType.Q8_0
                            ? RowQ8_0(row, xq + ((long)r * k), xd + ((long)r * blocks), blocks)
                            : RowQ4_0(row, xq + ((long)r * k), xd + ((long)r * blocks), xo + ((long)r * blocks), blocks);
                        float* at = y + ((long)r * n) + c;
                        *at = dot + (addToY ? *at : 0f);
                    }
                }
            }
        });
    }

    /// <summary>llama.cpp's quantize_row_q8_0 for activations, with the scale kept in f32.</summary>
    private static void QuantizeRow(ReadOnlySpan<float> x, Span<sbyte> codes, Span<float> scales)
    {
        for (int b = 0; b < scales.Length; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * Block, Block);
            float amax = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(v);
            amax = MathF.Abs(amax);
            float d = amax / 127, id = d != 0 ? 1f / d : 0f;
            scales[b] = d;
            for (int j = 0; j < Block; j++)
            {
                codes[(b * Block) + j] = (sbyte)MathF.Round(v[j] * id, MidpointRounding.AwayFromZero);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the hot loop: optimized at once, not after tiering (a benchmark's first calls)
    private static float RowQ8_0(byte* row, sbyte* xq, float* xd, int blocks)
    {
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = row + (b * 34);
            Vector256<int> dot = Dot(Vector256.Load((sbyte*)(block + 2)), Vector256.Load(xq + (b * Block)));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dot), Vector256.Create(HalfTable.Value(*(ushort*)block) * xd[b]), acc);
        }

        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Q4_0: the nibbles q (0..15) are already the unsigned operand of the integer dot product, so Σ(q − 8)·x is computed as
    /// Σ q·x − 8·Σx, the second term precomputed per activation block and fed in as the dot product's starting value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float RowQ4_0(byte* row, sbyte* xq, float* xd, Vector256<int>* xo, int blocks)
    {
        Vector256<float> acc = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = row + (b * 18);
            Vector128<byte> packed = Vector128.Load(block + 2);
            Vector256<byte> nibbles = Vector256.Create(packed & Vector128.Create((byte)0x0F), Vector128.ShiftRightLogical(packed, 4) & Vector128.Create((byte)0x0F));
            Vector256<int> dot = UnsignedDot(xo[b], nibbles, Vector256.Load(xq + (b * Block)));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(dot), Vector256.Create(HalfTable.Value(*(ushort*)block) * xd[b]), acc);
        }

        return Vector256.Sum(acc);
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

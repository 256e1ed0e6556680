using System.Runtime.Intrinsics;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>One weight row decoded to f32 with the same decoders the streaming linear uses, for the prefill GEMM's panels.</summary>
internal static unsafe class WeightRows
{
    /// <summary>Writes row's <paramref name="k"/> values, each times <paramref name="scale"/> (1 for formats without a separate scale).</summary>
    public static void Dequantize(DType format, byte* row, int k, float scale, float* destination)
    {
        switch (format)
        {
            case DType.BF16: Decode<BF16Weights>(row, k, scale, destination); break;
            case DType.F16: Decode<F16Weights>(row, k, scale, destination); break;
            case DType.I8: Decode<Int8Weights>(row, k, scale, destination); break;
            case DType.Q8_0: Decode<Q8_0Weights>(row, k, scale, destination); break;
            case DType.Q4_0: Decode<Q4_0Weights>(row, k, scale, destination); break;
            case DType.F8E4M3: Decode<E4M3Weights>(row, k, scale, destination); break;
            case DType.F8E5M2: Decode<E5M2Weights>(row, k, scale, destination); break;
            default: throw new ArgumentException($"no row decoder for {format.Label()} weights", nameof(format));
        }
    }

    /// <summary>Row <paramref name="row"/> of a Q4_0 matrix held eight rows interleaved (<see cref="EightRowQ4"/>): its blocks gathered, then decoded.</summary>
    public static void DequantizeEightRowQ4(byte* matrix, int n, int row, int k, float* destination)
    {
        int blocks = k / 32;
        Span<byte> plain = blocks <= 2048 ? stackalloc byte[blocks * EightRowQ4.BlockBytes] : new byte[blocks * EightRowQ4.BlockBytes];
        fixed (byte* p = plain)
        {
            EightRowQ4.CopyRow(matrix, n, k, row, p);
            Decode<Q4_0Weights>(p, k, 1f, destination);
        }
    }

    /// <summary>Row <paramref name="row"/> of an (n, k) matrix held in chunked tiles (<see cref="ChunkedRows"/>): each chunk decoded where it lies.</summary>
    public static void DequantizeChunkedRow(DType format, byte* matrix, int n, int row, int k, float scale, float* destination)
    {
        int blockBytes = ChunkedRows.BlockBytes(format);
        byte* tile = ChunkedRows.Tile(matrix, n, k, blockBytes, row / ChunkedRows.TileRows, out int rows);
        for (int start = 0; start < k; start += ChunkedRows.ChunkValues)
        {
            byte* chunk = ChunkedRows.ChunkAt(tile, rows, k, blockBytes, row % ChunkedRows.TileRows, start);
            Dequantize(format, chunk, ChunkedRows.ChunkLength(k, start), scale, destination + start);
        }
    }

    private static void Decode<TDecoder>(byte* row, int k, float scale, float* destination)
        where TDecoder : struct, IWeightDecoder
    {
        int whole = k / 32 * 32;
        var s = Vector256.Create(scale);
        for (int i = 0; i < whole; i += 32)
        {
            TDecoder.Decode32(row, i, out Vector256<float> w0, out Vector256<float> w1, out Vector256<float> w2, out Vector256<float> w3);
            (w0 * s).Store(destination + i);
            (w1 * s).Store(destination + i + 8);
            (w2 * s).Store(destination + i + 16);
            (w3 * s).Store(destination + i + 24);
        }

        for (int i = whole; i < k; i++)
        {
            destination[i] = TDecoder.Decode1(row, i) * scale;
        }
    }
}

using Viper.Cuda.Device;

namespace Viper.Cuda.Kernels;

/// <summary>Launch-configuration math, one method per kernel family, and nowhere else.</summary>
public static class Launchers
{
    /// <summary>Threads per block for the grid-stride elementwise kernels (elementwise.cu, guidance.cu).</summary>
    public const uint ElementwiseBlock = 256;

    /// <summary>Grid-stride kernels launch at most this many blocks per SM (32 × 132 on an H100: about 4k blocks).</summary>
    public const int ElementwiseBlocksPerMultiprocessor = 32;

    /// <summary>Threads per block of reduce.cu: a multiple of 32, as block_sum requires.</summary>
    public const uint ReduceBlock = 256;

    /// <summary>Enough blocks to cover n once, capped by the device's SMs so a grid-stride loop keeps each busy without a huge grid.</summary>
    public static (Dim3 Grid, Dim3 Block) Elementwise(long n, int multiprocessors) =>
        (new Dim3((uint)Math.Clamp((n + ElementwiseBlock - 1) / ElementwiseBlock, 1, (long)ElementwiseBlocksPerMultiprocessor * Math.Max(1, multiprocessors))),
            new Dim3(ElementwiseBlock));

    /// <summary>
    /// quant.cu's fp8_amax_partial and fp8_quantize share this grid: one partial maximum per block, at most
    /// <see cref="Fp8AmaxBlocks"/> of them, which every block of the second kernel reduces again.
    /// </summary>
    public static (Dim3 Grid, Dim3 Block) Fp8Activations(long n) =>
        (new Dim3((uint)Math.Clamp((n + ReduceBlock - 1) / ReduceBlock, 1, Fp8AmaxBlocks)), new Dim3(ReduceBlock));

    /// <summary>Blocks of the FP8 activation kernels: enough to stream the activations, few enough for each block to re-reduce.</summary>
    public const int Fp8AmaxBlocks = 1024;

    /// <summary>One block per row; short rows get a smaller block (still whole warps).</summary>
    public static (Dim3 Grid, Dim3 Block) RowReduce(long rows, int cols) =>
        (new Dim3(checked((uint)rows)), new Dim3((uint)Math.Clamp((cols + 31) / 32 * 32, 32, (int)ReduceBlock)));

    /// <summary>flash_attention.cu: 4 warps per block, 64 query rows per block, 64-key tiles of Q, K and V in shared memory.</summary>
    public const int FlashRows = 64;

    public static (Dim3 Grid, Dim3 Block, int SharedBytes) FlashAttention(int batch, int queries, int heads, int headDim)
    {
        int paddedDim = (headDim + 15) / 16 * 16;
        return (new Dim3((uint)((queries + FlashRows - 1) / FlashRows), (uint)heads, (uint)batch), new Dim3(128), 3 * FlashRows * paddedDim * 2);
    }

    /// <summary>attention.cu: threads per block of the row kernels, one key per thread per tile.</summary>
    public const int AttentionRowsBlock = 128;

    /// <summary>Split-KV applies to at most this many query rows (decode, a few speculative tokens).</summary>
    public const int SplitKvMaxQueries = 8;

    /// <summary>Blocks per SM a split-KV launch aims for.</summary>
    public const int SplitKvBlocksPerMultiprocessor = 2;

    /// <summary>
    /// attention.cu split-KV decode: how many key chunks each (row, head, batch) is cut into, and the chunk length
    /// (whole tiles, at least two per split). One split means the plain row kernel.
    /// </summary>
    public static (int Splits, int Chunk) SplitKv(int batch, int queries, int heads, int keys, int multiprocessors)
    {
        int rows = batch * queries * heads;
        if (queries > SplitKvMaxQueries || rows == 0)
        {
            return (1, keys);
        }

        int wanted = Math.Clamp(Math.Min(keys / (2 * AttentionRowsBlock), SplitKvBlocksPerMultiprocessor * Math.Max(1, multiprocessors) / rows), 1, 64);
        int chunk = (keys + wanted - 1) / wanted;
        chunk = (chunk + AttentionRowsBlock - 1) / AttentionRowsBlock * AttentionRowsBlock;
        return ((keys + chunk - 1) / chunk, chunk);
    }

    /// <summary>attention_backward.cu's row pass: one block per (query, head, batch), one key per thread per step.</summary>
    public static (Dim3 Grid, Dim3 Block) AttentionBackwardRows(int batch, int queries, int heads, int keys) =>
        (new Dim3((uint)queries, (uint)heads, (uint)batch), new Dim3((uint)Math.Clamp((keys + 31) / 32 * 32, 32, AttentionRowsBlock)));

    /// <summary>conv.cu: 4 warps per block, each block a 64 (output pixels) × 64 (output channels) tile.</summary>
    public static (Dim3 Grid, Dim3 Block) ImplicitGemmConv(long outputPixels, int outputChannels) =>
        (new Dim3(checked((uint)((outputPixels + 63) / 64)), (uint)((outputChannels + 63) / 64)), new Dim3(128));

    /// <summary>quant.cu's linear_small: one warp per output column, this many warps per block.</summary>
    public const int SmallLinearWarps = 8;

    /// <summary>Rows of x that quant.cu's linear_small takes in one pass over the weights (kSmallRows); more go to the GEMM.</summary>
    public const int SmallLinearRows = 8;

    /// <summary>Bytes of the scratch a prefill dequantizes one panel of weight rows into before its GEMM.</summary>
    public const long DequantizePanelBytes = 64L << 20;

    public static (Dim3 Grid, Dim3 Block) SmallLinear(int n) =>
        (new Dim3((uint)((n + SmallLinearWarps - 1) / SmallLinearWarps)), new Dim3((uint)(SmallLinearWarps * 32)));

    /// <summary>Weight rows per dequantized panel: as many as fit <see cref="DequantizePanelBytes"/>, at least one.</summary>
    public static int DequantizePanelRows(int n, int k, int elementBytes) => (int)Math.Clamp(DequantizePanelBytes / Math.Max(1L, (long)k * elementBytes), 1, Math.Max(n, 1));
}

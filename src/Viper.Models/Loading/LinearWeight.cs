using Viper.Runtime;
using Viper.Runtime.Quantization;

namespace Viper.Models.Loading;

/// <summary>A linear layer's weight as the backend holds it, and its per-channel f32 scale when the format has one (int8, FP8).</summary>
public sealed record LinearWeight(Tensor Weight, Tensor? Scale)
{
    /// <summary>Where a format's scale lives in a checkpoint: <c>q_proj.weight</c> → <c>q_proj.weight_scale</c> (compressed-tensors / vLLM).</summary>
    public static string ScaleName(string weightName) => weightName + "_scale";
}

/// <summary>The formats a linear weight may be kept in, and the host-side conversion into one.</summary>
public static class LinearWeightFormats
{
    /// <summary>Rows converted per slab, so a matrix is never widened to f32 whole (a 32000×4096 head would be 500 MB).</summary>
    private const int SlabRows = 256;

    /// <summary>Float dtypes (kept as stored, not widened) and the formats <see cref="WeightQuantizer"/> writes.</summary>
    public static bool IsStorable(DType format) => format.IsFloat() || format is DType.I8 or DType.F8E4M3 or DType.Q8_0 or DType.Q4_0;

    /// <summary>
    /// Converts a float weight (N, K) on <paramref name="backend"/> into <paramref name="format"/>, a few slabs of rows at a time.
    /// A block format needs K in whole blocks of 32; a layer whose K is not keeps int8 per channel instead (8 bits and a
    /// scale per row, any K), as llama.cpp falls back to another type for tensors its blocks do not divide.
    /// </summary>
    public static LinearWeight Convert(IBackend backend, Tensor weight, DType format)
    {
        int n = weight.Shape[0], k = weight.Shape[1];
        if (format.BlockSize() > 1 && k % format.BlockSize() != 0)
        {
            format = DType.I8;
        }

        float[]? scale = format.NeedsScale() ? new float[n] : null;
        long rowBytes = format.BytesFor(k);
        Tensor stored = backend.Allocate(weight.Shape, format);
        try
        {
            // A few slabs downloaded, quantized in parallel and uploaded into their rows: the host holds one group, not the matrix.
            int group = Environment.ProcessorCount;
            for (int start = 0; start < n; start += group * SlabRows)
            {
                int[] firsts = [.. Enumerable.Range(0, group).Select(i => start + (i * SlabRows)).Where(f => f < n)];
                float[][] values = [.. firsts.Select(first => { using Tensor slab = weight.Slice(first, Math.Min(SlabRows, n - first)); return slab.ToFloats(); })];
                byte[][] parts = new byte[firsts.Length][];
                Parallel.For(0, firsts.Length, i =>
                {
                    int rows = values[i].Length / k;
                    parts[i] = format.IsFloat() ? HostTensors.EncodeFloats(values[i], format) : new byte[rows * rowBytes];
                    if (!format.IsFloat())
                    {
                        WeightQuantizer.QuantizeRows(values[i], k, format, parts[i], scale is null ? default : scale.AsSpan(firsts[i], rows));
                    }
                });
                for (int i = 0; i < firsts.Length; i++)
                {
                    int rows = values[i].Length / k;
                    using Tensor part = backend.FromHost(parts[i], new Shape(rows, k), format);
                    using Tensor rowsOfStored = stored.Slice(firsts[i], rows);
                    backend.CopyInto(part, rowsOfStored);
                }
            }
        }
        catch
        {
            stored.Dispose();
            throw;
        }

        return new LinearWeight(stored, scale is null ? null : backend.FromFloats(scale, new Shape(n)));
    }
}

using System.Buffers;
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
    /// <summary>
    /// Values converted per slab (its f32 copy 4 MB), so a matrix is never widened to f32 whole (a 32000×4096 head would
    /// be 500 MB); sized in values, not rows, because the pool keeps the slab buffers after a load: 256 rows of a
    /// 14336-wide down projection kept 60 MB.
    /// </summary>
    private const int SlabValues = 1 << 20;

    /// <summary>Float dtypes (kept as stored, not widened) and the formats <see cref="WeightQuantizer"/> writes.</summary>
    public static bool IsStorable(DType format) => format.IsFloat() || format is DType.I8 or DType.F8E4M3 or DType.Q8_0 or DType.Q4_0;

    /// <summary>
    /// Converts a float weight (N, K) on <paramref name="backend"/> into <paramref name="format"/>, a few slabs of rows at a time.
    /// A block format needs K in whole blocks of 32; a layer whose K is not keeps int8 per channel instead (8 bits and a
    /// scale per row, any K), as llama.cpp falls back to another type for tensors its blocks do not divide.
    /// </summary>
    public static LinearWeight Convert(IBackend backend, Tensor weight, DType format) =>
        Convert(backend, weight.Shape, weight.DType, format, (first, raw) =>
        {
            using Tensor slab = weight.Slice(first, raw.Length / weight.DType.SizeInBytes() / weight.Shape[1]);
            backend.CopyToHost(slab, raw);
        });

    /// <summary>Fills <paramref name="raw"/> with the source bytes of the rows starting at row <paramref name="first"/>.</summary>
    public delegate void SlabReader(int first, Span<byte> raw);

    /// <summary>
    /// The same from rows read slab by slab from anywhere (<paramref name="read"/>), in <paramref name="source"/> dtype: a
    /// checkpoint's mmapped bytes, so no compute-dtype copy of the matrix exists on the backend or the host.
    /// </summary>
    public static LinearWeight Convert(IBackend backend, Shape shape, DType source, DType format, SlabReader read)
    {
        int n = shape[0], k = shape[1];
        if (format.BlockSize() > 1 && k % format.BlockSize() != 0)
        {
            format = DType.I8;
        }

        float[]? scale = format.NeedsScale() ? new float[n] : null;
        long rowBytes = format.BytesFor(k);
        int group = Environment.ProcessorCount, slabRows = Math.Max(1, SlabValues / Math.Max(k, 1)), slabValues = slabRows * k;
        // Pooled host buffers, the same ones for every matrix of a load: no garbage per matrix to swell the process.
        byte[][] raw = [.. Enumerable.Range(0, group).Select(_ => ArrayPool<byte>.Shared.Rent(slabValues * source.SizeInBytes()))];
        float[][] values = [.. Enumerable.Range(0, group).Select(_ => ArrayPool<float>.Shared.Rent(slabValues))];
        byte[][] parts = [.. Enumerable.Range(0, group).Select(_ => ArrayPool<byte>.Shared.Rent((int)(slabRows * rowBytes)))];
        Tensor stored = backend.Allocate(shape, format);
        try
        {
            // A few slabs downloaded, converted in parallel and uploaded into their rows: the host holds one group, not the matrix.
            for (int start = 0; start < n; start += group * slabRows)
            {
                int[] firsts = [.. Enumerable.Range(0, group).Select(i => start + (i * slabRows)).Where(f => f < n)];
                for (int i = 0; i < firsts.Length; i++)
                {
                    read(firsts[i], raw[i].AsSpan(0, Math.Min(slabRows, n - firsts[i]) * k * source.SizeInBytes()));
                }

                Parallel.For(0, firsts.Length, i =>
                {
                    int rows = Math.Min(slabRows, n - firsts[i]);
                    Span<float> floats = values[i].AsSpan(0, rows * k);
                    HostTensors.DecodeFloats(raw[i].AsSpan(0, rows * k * source.SizeInBytes()), source, floats);
                    Span<byte> target = parts[i].AsSpan(0, (int)(rows * rowBytes));
                    if (format.IsFloat())
                    {
                        HostTensors.EncodeFloats(floats, format, target);
                    }
                    else
                    {
                        WeightQuantizer.QuantizeRows(floats, k, format, target, scale is null ? default : scale.AsSpan(firsts[i], rows));
                    }
                });
                for (int i = 0; i < firsts.Length; i++)
                {
                    int rows = Math.Min(slabRows, n - firsts[i]);
                    using Tensor part = backend.FromHost(parts[i].AsSpan(0, (int)(rows * rowBytes)), new Shape(rows, k), format);
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
        finally
        {
            Array.ForEach(raw, a => ArrayPool<byte>.Shared.Return(a));
            Array.ForEach(values, a => ArrayPool<float>.Shared.Return(a));
            Array.ForEach(parts, a => ArrayPool<byte>.Shared.Return(a));
        }

        return new LinearWeight(stored, scale is null ? null : backend.FromFloats(scale, new Shape(n)));
    }
}

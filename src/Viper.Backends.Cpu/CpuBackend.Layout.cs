using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>Data movement ops. They copy bytes, so they work for every dtype without widening.</summary>
public sealed unsafe partial class CpuBackend
{
    protected override Tensor ConcatCore(IReadOnlyList<Tensor> parts, int axis, Shape outShape)
    {
        int ax = outShape.NormalizeAxis(axis);
        AxisSlabs slabs = AxisSlabs.For(outShape, ax, parts.Select(p => p.Shape[ax]).ToList(), parts[0].DType);
        Tensor y = Allocate(outShape, parts[0].DType, zeroed: false);
        for (int i = 0; i < parts.Count; i++)
        {
            CopyRows(Ptr(parts[i]), slabs.Bytes[i], Ptr(y) + slabs.Offsets[i], slabs.RowBytes, slabs.Outer, slabs.Bytes[i]);
        }

        return y;
    }

    protected override Tensor[] SplitCore(Tensor x, int axis, IReadOnlyList<int> sizes)
    {
        AxisSlabs slabs = AxisSlabs.For(x.Shape, axis, sizes, x.DType);
        var result = new Tensor[sizes.Count];
        for (int i = 0; i < sizes.Count; i++)
        {
            result[i] = Allocate(x.Shape.With(x.Shape.NormalizeAxis(axis), sizes[i]), x.DType, zeroed: false);
            CopyRows(Ptr(x) + slabs.Offsets[i], slabs.RowBytes, Ptr(result[i]), slabs.Bytes[i], slabs.Outer, slabs.Bytes[i]);
        }

        return result;
    }

    protected override Tensor NarrowCore(Tensor x, int axis, int start, Shape outShape)
    {
        (long[] strides, long offset) = StridedIndexing.NarrowStrides(x.Shape, axis, start);
        return Gather(x, outShape, strides, offset);
    }

    // y[i] = x[offset + Σ index_k(i)·strides[k]] over y's shape: narrowing.
    private Tensor Gather(Tensor x, Shape outShape, long[] gatherStrides, long offset)
    {
        int size = x.DType.SizeInBytes();
        int[] outDims = outShape.ToArray();
        Tensor y = Allocate(outShape, x.DType, zeroed: false);
        byte* src = Ptr(x) + (offset * size), dst = Ptr(y);
        ParallelChunks(outShape.ElementCount, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                long from = StridedIndex(i, outDims, gatherStrides);
                Buffer.MemoryCopy(src + (from * size), dst + (i * size), size, size);
            }
        });
        return y;
    }

    protected override Tensor UpsampleNearest2xCore(Tensor x)
    {
        int n = x.Shape[0], h = x.Shape[1], w = x.Shape[2];
        long pixel = (long)x.Shape[3] * x.DType.SizeInBytes();
        Tensor y = Allocate(new Shape(n, h * 2, w * 2, x.Shape[3]), x.DType, zeroed: false);
        byte* src = Ptr(x), dst = Ptr(y);
        ParallelRows((long)n * h * 2, (long)w * 2 * x.Shape[3], row =>
        {
            long image = row / (h * 2);
            long iy = row % (h * 2) / 2;
            byte* inRow = src + (((image * h) + iy) * w * pixel);
            byte* outRow = dst + (row * w * 2 * pixel);
            for (int ox = 0; ox < w * 2; ox++)
            {
                Buffer.MemoryCopy(inRow + (ox / 2 * pixel), outRow + (ox * pixel), pixel, pixel);
            }
        });
        return y;
    }

    /// <summary>Copies <paramref name="rows"/> runs of <paramref name="bytes"/> between pitched layouts.</summary>
    private void CopyRows(byte* source, long sourcePitch, byte* destination, long destinationPitch, long rows, long bytes) =>
        ParallelChunks(rows, (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                Buffer.MemoryCopy(source + (r * sourcePitch), destination + (r * destinationPitch), bytes, bytes);
            }
        });
}

using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>Data movement ops. They copy bytes, so they work for every dtype without widening.</summary>
public sealed unsafe partial class CpuBackend
{
    public Tensor Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        OpChecks.SameBackend(this, [.. parts]);
        Shape outShape = OpChecks.Concat(parts, axis);
        int ax = outShape.NormalizeAxis(axis);
        long outer = outShape.Product(0, ax);
        long innerBytes = outShape.Product(ax + 1, outShape.Rank) * parts[0].DType.SizeInBytes();
        long outRow = outShape[ax] * innerBytes;
        Tensor y = Allocate(outShape, parts[0].DType, zeroed: false);
        long offset = 0;
        foreach (Tensor p in parts)
        {
            long chunk = p.Shape[ax] * innerBytes;
            byte* src = Ptr(p);
            byte* dst = Ptr(y) + offset;
            ParallelChunks(outer, (start, end) =>
            {
                for (long o = start; o < end; o++)
                {
                    Buffer.MemoryCopy(src + (o * chunk), dst + (o * outRow), chunk, chunk);
                }
            });
            offset += chunk;
        }

        return y;
    }

    public Tensor[] Split(Tensor x, int axis, IReadOnlyList<int> sizes)
    {
        OpChecks.SameBackend(this, x);
        OpChecks.Split(x, axis, sizes);
        int ax = x.Shape.NormalizeAxis(axis);
        long outer = x.Shape.Product(0, ax);
        long innerBytes = x.Shape.Product(ax + 1, x.Shape.Rank) * x.DType.SizeInBytes();
        long inRow = x.Shape[ax] * innerBytes;
        var result = new Tensor[sizes.Count];
        long offset = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            long chunk = sizes[i] * innerBytes;
            Tensor part = Allocate(x.Shape.With(ax, sizes[i]), x.DType, zeroed: false);
            byte* src = Ptr(x) + offset;
            byte* dst = Ptr(part);
            ParallelChunks(outer, (start, end) =>
            {
                for (long o = start; o < end; o++)
                {
                    Buffer.MemoryCopy(src + (o * inRow), dst + (o * chunk), chunk, chunk);
                }
            });
            result[i] = part;
            offset += chunk;
        }

        return result;
    }

    public Tensor Permute(Tensor x, params int[] order)
    {
        OpChecks.SameBackend(this, x);
        Shape outShape = OpChecks.Permute(x, order);
        int size = x.DType.SizeInBytes();
        int[] outDims = outShape.ToArray();
        long[] gatherStrides = StridedIndexing.PermuteStrides(x.Shape, order);
        Tensor y = Allocate(outShape, x.DType, zeroed: false);
        byte* src = Ptr(x), dst = Ptr(y);
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

    public Tensor UpsampleNearest2x(Tensor x)
    {
        OpChecks.SameBackend(this, x);
        OpChecks.Rank("upsample_nearest2x", x, "x (N, H, W, C)", 4);
        int n = x.Shape[0], h = x.Shape[1], w = x.Shape[2];
        long pixel = (long)x.Shape[3] * x.DType.SizeInBytes();
        Tensor y = Allocate(new Shape(n, h * 2, w * 2, x.Shape[3]), x.DType, zeroed: false);
        byte* src = Ptr(x), dst = Ptr(y);
        ParallelRows((long)n * h * 2, row =>
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
}

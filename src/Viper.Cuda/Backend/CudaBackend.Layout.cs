using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor ConcatCore(IReadOnlyList<Tensor> parts, int axis, Shape outShape)
    {
        int ax = outShape.NormalizeAxis(axis);
        AxisSlabs slabs = AxisSlabs.For(outShape, ax, parts.Select(p => p.Shape[ax]).ToList(), parts[0].DType);
        Tensor y = AllocateUninitialized(outShape, parts[0].DType);
        for (int i = 0; i < parts.Count; i++)
        {
            CopyRows(parts[i], 0, slabs.Bytes[i], y, slabs.Offsets[i], slabs.RowBytes, slabs.Outer, slabs.Bytes[i]);
        }

        return y;
    }

    protected override Tensor[] SplitCore(Tensor x, int axis, IReadOnlyList<int> sizes)
    {
        AxisSlabs slabs = AxisSlabs.For(x.Shape, axis, sizes, x.DType);
        var result = new Tensor[sizes.Count];
        for (int i = 0; i < sizes.Count; i++)
        {
            result[i] = AllocateUninitialized(x.Shape.With(x.Shape.NormalizeAxis(axis), sizes[i]), x.DType);
            CopyRows(x, slabs.Offsets[i], slabs.RowBytes, result[i], 0, slabs.Bytes[i], slabs.Outer, slabs.Bytes[i]);
        }

        return result;
    }

    protected override Tensor NarrowCore(Tensor x, int axis, int start, Shape outShape)
    {
        Tensor y = AllocateUninitialized(outShape, x.DType);
        (long[] strides, long offset) = StridedIndexing.NarrowStrides(x.Shape, axis, start);
        LaunchElementwise(KernelTable.ByElementSize("gather", x.DType), y.ElementCount, new KernelArgs()
            .Add(Address(x) + (nint)(offset * x.DType.SizeInBytes()), x).Add(this, y).Add(KernelStrides.From(outShape, strides)).Add(y.ElementCount));
        return y;
    }

    protected override Tensor UpsampleNearest2xCore(Tensor x)
    {
        Tensor y = AllocateUninitialized(new Shape(x.Shape[0], x.Shape[1] * 2, x.Shape[2] * 2, x.Shape[3]), x.DType);
        LaunchElementwise(KernelTable.ByElementSize("upsample_nearest2x", x.DType), y.ElementCount, new KernelArgs()
            .Add(this, x).Add(this, y).Add((long)x.Shape[1]).Add((long)x.Shape[2]).Add((long)x.Shape[3]).Add(y.ElementCount));
        return y;
    }

    protected override Tensor EmbeddingCore(Tensor table, Tensor ids, Shape outShape)
    {
        Tensor y = AllocateUninitialized(outShape, table.DType);
        string entry = KernelTable.ByElementSize(ids.DType == DType.I64 ? "embedding_i64" : "embedding_i32", table.DType);
        LaunchElementwise(entry, y.ElementCount,
            new KernelArgs().Add(this, table).Add(this, ids).Add(this, y).Add((long)table.Shape[0]).Add((long)table.Shape[1]).Add(y.ElementCount)
                .Add(BadValues));
        return y;
    }
}

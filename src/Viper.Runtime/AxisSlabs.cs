namespace Viper.Runtime;

/// <summary>
/// The byte layout shared by concat and split along one axis of a row-major tensor: the whole tensor is
/// <see cref="Outer"/> runs of <see cref="RowBytes"/>, and part i occupies <see cref="Bytes"/>[i] bytes at
/// <see cref="Offsets"/>[i] within every run. Concat copies each part's runs in; split copies them out.
/// </summary>
public sealed record AxisSlabs(long Outer, long RowBytes, long[] Offsets, long[] Bytes)
{
    public static AxisSlabs For(Shape whole, int axis, IReadOnlyList<int> sizes, DType dtype)
    {
        int ax = whole.NormalizeAxis(axis);
        long inner = whole.Product(ax + 1, whole.Rank) * dtype.SizeInBytes();
        long[] bytes = sizes.Select(s => s * inner).ToArray();
        long[] offsets = new long[bytes.Length];
        for (int i = 1; i < bytes.Length; i++)
        {
            offsets[i] = offsets[i - 1] + bytes[i - 1];
        }

        return new AxisSlabs(whole.Product(0, ax), whole[ax] * inner, offsets, bytes);
    }
}

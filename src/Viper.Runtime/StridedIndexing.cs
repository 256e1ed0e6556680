namespace Viper.Runtime;

/// <summary>
/// Source strides for ops that read their input through an index mapping instead of a strided view:
/// broadcasting (stride 0 on broadcast axes) and permutation. Shared by every backend.
/// </summary>
public static class StridedIndexing
{
    /// <summary>Per axis of <paramref name="output"/>, the element stride in <paramref name="input"/> (NumPy broadcasting, input rank ≤ output rank).</summary>
    public static long[] BroadcastStrides(Shape output, Shape input)
    {
        long[] strides = new long[output.Rank];
        long stride = 1;
        for (int i = output.Rank - 1, j = input.Rank - 1; i >= 0; i--, j--)
        {
            int d = j >= 0 ? input[j] : 1;
            strides[i] = d == 1 ? 0 : stride;
            stride *= d;
        }

        return strides;
    }

    /// <summary>
    /// torch.narrow: per axis, the element stride of the contiguous <paramref name="input"/>, and the element offset of
    /// the window's first element (start along <paramref name="axis"/>).
    /// </summary>
    public static (long[] Strides, long Offset) NarrowStrides(Shape input, int axis, int start)
    {
        long[] strides = ContiguousStrides(input);
        return (strides, start * strides[input.NormalizeAxis(axis)]);
    }

    /// <summary>Per axis, the element stride of the contiguous <paramref name="input"/>.</summary>
    public static long[] ContiguousStrides(Shape input)
    {
        long[] inputStrides = new long[input.Rank];
        long stride = 1;
        for (int i = input.Rank - 1; i >= 0; i--)
        {
            inputStrides[i] = stride;
            stride *= input[i];
        }

        return inputStrides;
    }
}

using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.SingleFile;

/// <summary>
/// Where a model's tensor is in another layout's checkpoint and how it is cut from there: stored tensor
/// <see cref="Source"/>, optionally rows [<see cref="FirstRow"/>, +<see cref="Rows"/>) of it (a fused q/k/v), transposed
/// (a matrix stored (in, out)), or stored with trailing size-1 dimensions the model drops (a 1×1 conv used as a linear).
/// </summary>
public sealed record TensorRecipe(string Source)
{
    public int FirstRow { get; init; }

    /// <summary>How many leading-dimension rows to take from <see cref="FirstRow"/> (0: the whole tensor).</summary>
    public int Rows { get; init; }

    public bool Transposed { get; init; }

    /// <summary>The stored tensor may carry trailing 1s the model's shape lacks: (C, C, 1, 1) for (C, C).</summary>
    public bool Squeezed { get; init; }

    /// <summary>The stored shape this recipe needs for the model's <paramref name="expected"/> shape.</summary>
    public bool Fits(Shape stored, Shape expected)
    {
        if (Rows > 0)
        {
            return stored.Rank == expected.Rank && stored[0] >= FirstRow + Rows && expected[0] == Rows
                && Enumerable.Range(1, stored.Rank - 1).All(d => stored[d] == expected[d]);
        }

        if (Transposed)
        {
            return stored.Rank == 2 && expected.Rank == 2 && stored[0] == expected[1] && stored[1] == expected[0];
        }

        return stored.Equals(expected) || (Squeezed && Trim(stored).Equals(Trim(expected)));
    }

    /// <summary>The model's tensor bytes from the stored tensor's (checked with <see cref="Fits"/> first).</summary>
    public byte[] Cut(ReadOnlySpan<byte> stored, Shape storedShape, DType dtype)
    {
        int element = dtype.SizeInBytes();
        if (Rows > 0)
        {
            long rowBytes = storedShape.ElementCount / storedShape[0] * element;
            return stored.Slice(checked((int)(FirstRow * rowBytes)), checked((int)(Rows * rowBytes))).ToArray();
        }

        if (!Transposed)
        {
            return stored.ToArray();
        }

        int rows = storedShape[0], cols = storedShape[1];
        byte[] result = new byte[stored.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                stored.Slice(((r * cols) + c) * element, element).CopyTo(result.AsSpan(((c * rows) + r) * element));
            }
        }

        return result;
    }

    private static Shape Trim(Shape s)
    {
        int rank = s.Rank;
        while (rank > 1 && s[rank - 1] == 1)
        {
            rank--;
        }

        return new Shape(s.ToArray()[..rank]);
    }
}

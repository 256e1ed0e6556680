namespace Viper.Runtime;

/// <summary>An immutable list of non-negative dimensions, outermost first (row-major).</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly int[] _dims;

    public Shape(params int[] dims)
    {
        foreach (int d in dims)
        {
            if (d < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(dims), $"negative dimension in [{string.Join(", ", dims)}]");
            }
        }

        _dims = (int[])dims.Clone();
        long count = 1;
        foreach (int d in _dims)
        {
            count = checked(count * d);
        }

        ElementCount = count;
    }

    public int Rank => _dims.Length;

    public long ElementCount { get; }

    public int this[int axis] => _dims[NormalizeAxis(axis)];

    /// <summary>The last dimension; 1 for a scalar.</summary>
    public int Last => Rank == 0 ? 1 : _dims[^1];

    /// <summary>Product of all but the last dimension.</summary>
    public long Rows => Rank == 0 ? 1 : Product(0, Rank - 1);

    public ReadOnlySpan<int> Dims => _dims;

    public int[] ToArray() => (int[])_dims.Clone();

    public int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} out of range for shape {this}");
        }

        return a;
    }

    /// <summary>Product of the dimensions in [start, end).</summary>
    public long Product(int start, int end)
    {
        long p = 1;
        for (int i = start; i < end; i++)
        {
            p *= _dims[i];
        }

        return p;
    }

    public Shape WithLast(int last)
    {
        int[] d = ToArray();
        d[^1] = last;
        return new Shape(d);
    }

    /// <summary>The shape of a reduction over the last axis: every dimension but the last.</summary>
    public Shape WithoutLast() => new(_dims[..^1]);

    public Shape With(int axis, int value)
    {
        int[] d = ToArray();
        d[NormalizeAxis(axis)] = value;
        return new Shape(d);
    }

    public bool Equals(Shape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);

    public override bool Equals(object? obj) => obj is Shape s && Equals(s);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (int d in _dims)
        {
            h.Add(d);
        }

        return h.ToHashCode();
    }

    public override string ToString() => $"[{string.Join(", ", _dims)}]";

    public static implicit operator Shape(int[] dims) => new(dims);
}

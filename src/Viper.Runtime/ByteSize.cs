using System.Globalization;

namespace Viper.Runtime;

/// <summary>Byte counts as people write them: "512MiB", "6GiB", "4096" (IEC units, B optional; GB and MB taken as GiB and MiB).</summary>
public static class ByteSize
{
    /// <summary>Parses <paramref name="text"/>; a bad value names <paramref name="what"/> (the option or variable it came from).</summary>
    public static long Parse(string text, string what)
    {
        string t = text.Trim();
        int split = t.Length;
        while (split > 0 && !char.IsAsciiDigit(t[split - 1]) && t[split - 1] != '.')
        {
            split--;
        }

        long unit = t[split..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => throw Bad(text, what),
        };
        return double.TryParse(t[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) && value > 0
            && value * unit < long.MaxValue
            ? (long)(value * unit)
            : throw Bad(text, what);
    }

    /// <summary>"1.50 GiB" (two decimals, the largest unit below the value).</summary>
    public static string Format(long bytes) => bytes >= 1L << 30 ? Invariant(bytes / (double)(1L << 30), "GiB")
        : bytes >= 1L << 20 ? Invariant(bytes / (double)(1L << 20), "MiB")
        : bytes >= 1L << 10 ? Invariant(bytes / 1024.0, "KiB") : $"{bytes} B";

    private static string Invariant(double value, string unit) => string.Create(CultureInfo.InvariantCulture, $"{value:F2} {unit}");

    private static ArgumentException Bad(string text, string what) =>
        new($"{what}: '{text}' is not a size (a positive number with B, KiB, MiB, GiB or TiB)");
}

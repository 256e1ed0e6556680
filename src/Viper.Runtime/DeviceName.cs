using System.Globalization;

namespace Viper.Runtime;

/// <summary>
/// A device as the command line and placement maps name it: "cpu", "cuda:N" (a GPU, N after CUDA_VISIBLE_DEVICES) or
/// "cuda-emulated:N" (the emulated device); a GPU kind without ":N" is device 0.
/// </summary>
public readonly record struct DeviceName(string Backend, int Ordinal)
{
    public static IReadOnlyList<string> Backends { get; } = ["cpu", "cuda", "cuda-emulated"];

    public static DeviceName Cpu { get; } = new("cpu", 0);

    public bool IsGpu => Backend != "cpu";

    /// <summary>Parses <paramref name="text"/>; a bad value is an <see cref="ArgumentException"/> naming <paramref name="what"/> (where it was typed).</summary>
    public static DeviceName Parse(string text, string what)
    {
        string t = text.Trim();
        int colon = t.IndexOf(':');
        string backend = colon < 0 ? t : t[..colon];
        if (!Backends.Contains(backend))
        {
            throw new ArgumentException($"{what}: '{text}' is not a device (cpu, cuda:N or cuda-emulated:N)");
        }

        if (colon < 0)
        {
            return new DeviceName(backend, 0);
        }

        return backend != "cpu" && int.TryParse(t[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal) && ordinal < 64
            ? new DeviceName(backend, ordinal)
            : throw new ArgumentException($"{what}: '{text}' is not a device ({(backend == "cpu" ? "the cpu takes no number" : "N is 0..63")})");
    }

    public override string ToString() => IsGpu ? $"{Backend}:{Ordinal}" : Backend;
}

using Viper.Runtime;

namespace Viper.Cuda.Emulation;

/// <summary>
/// The emulated devices this process presents, from VIPER_EMU_DEVICES: a count ("2") or one entry per device, each a
/// memory limit ("6GiB,4GiB"; units B, KiB, MiB, GiB) or "host" for no limit but the host's RAM. Unset: one device,
/// no limit. With several devices each runs its blocks on an equal share of the host's cores (at least one), as two
/// GPUs each have their own SMs: two jobs on two devices then take about as long as one job on one.
/// </summary>
public sealed record EmulatedDevices(IReadOnlyList<long?> MemoryLimits)
{
    public const string Variable = "VIPER_EMU_DEVICES";

    public int Count => MemoryLimits.Count;

    /// <summary>Host threads each device runs its blocks on (null: every core, for a single device).</summary>
    public int? ThreadsPerDevice => Count == 1 ? null : Math.Max(1, Environment.ProcessorCount / Count);

    public static EmulatedDevices FromEnvironment() => Parse(Environment.GetEnvironmentVariable(Variable));

    public static EmulatedDevices Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return new EmulatedDevices([null]);
        }

        text = text.Trim();
        if (int.TryParse(text, out int count))
        {
            return count is >= 1 and <= EmulatedDevice.MaxDevices
                ? new EmulatedDevices(Enumerable.Repeat<long?>(null, count).ToArray())
                : throw new ArgumentException($"{Variable}={text}: 1 to {EmulatedDevice.MaxDevices} devices");
        }

        string[] entries = text.Split(',', StringSplitOptions.TrimEntries);
        if (entries.Length > EmulatedDevice.MaxDevices)
        {
            throw new ArgumentException($"{Variable}={text}: {entries.Length} devices, at most {EmulatedDevice.MaxDevices}");
        }

        return new EmulatedDevices(entries.Select(e => e == "host" ? null : (long?)ByteSize.Parse(e, Variable)).ToArray());
    }

    /// <summary>Opens emulated device <paramref name="ordinal"/> as configured.</summary>
    public EmulatedDevice Open(int ordinal) => ordinal >= 0 && ordinal < Count
        ? new EmulatedDevice(memoryLimitBytes: MemoryLimits[ordinal], ordinal: ordinal, threads: ThreadsPerDevice)
        : throw new ArgumentOutOfRangeException(nameof(ordinal), $"emulated device {ordinal} requested, {Count} present (set {Variable} for more)");
}

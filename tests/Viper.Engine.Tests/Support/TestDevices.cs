using Viper.Cuda.Device;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// GPU devices the kernel tests run on, one test body for all (candle's test_device!): the emulated device
/// always (tools/test.sh builds it first), the real driver when the machine has one.
/// </summary>
public static class TestDevices
{
    /// <summary>Why the real driver is not in <see cref="Names"/> on this machine, or null when it is.</summary>
    public static string? DriverUnavailable { get; } = DriverDevice.WhyUnavailable();

    public static TheoryData<string> Names
    {
        get
        {
            var names = new TheoryData<string> { "emulated" };
            if (DriverUnavailable is null)
            {
                names.Add("driver");
            }

            return names;
        }
    }

    public static IGpuDevice Create(string name)
    {
        Assert.True(name != "emulated" || EmulatedDevice.IsAvailable, "artifacts/emu/libviper_emu.so is missing: run tools/emu/build.sh (tools/test.sh does)");
        return name switch
        {
            "emulated" => new EmulatedDevice(),
            "driver" => new DriverDevice(),
            _ => throw new ArgumentException($"unknown device '{name}'"),
        };
    }
}

/// <summary>A test that needs a real GPU: reported as skipped, with the reason, on machines without one.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (TestDevices.DriverUnavailable is { } reason)
        {
            Skip = $"no GPU here: {reason}";
        }
    }
}

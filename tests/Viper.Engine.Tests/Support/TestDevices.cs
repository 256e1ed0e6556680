using Viper.Cuda.Device;
using Viper.Cuda.Emulation;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// GPU devices the kernel tests run on, one test body for all (candle's test_device!): the emulated device
/// always (tools/test.sh builds it first), the real driver when the machine has one.
/// </summary>
public static class TestDevices
{
    public static TheoryData<string> Names => new() { "emulated" };

    public static IGpuDevice Create(string name)
    {
        Assert.True(EmulatedDevice.IsAvailable, "artifacts/emu/libviper_emu.so is missing: run tools/emu/build.sh (tools/test.sh does)");
        return name switch
        {
            "emulated" => new EmulatedDevice(),
            _ => throw new ArgumentException($"unknown device '{name}'"),
        };
    }
}

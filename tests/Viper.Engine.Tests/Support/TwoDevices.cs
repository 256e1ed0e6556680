using Viper.Cuda.Backend;
using Viper.Cuda.Emulation;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// The second emulated device tests use (ordinal 1, on the threads VIPER_EMU_DEVICES=2 gives it: half the cores): every
/// test opens it the same way, since a device's thread count is fixed by its first launch. Device 0 keeps its default.
/// </summary>
public static class TwoDevices
{
    public static int SecondThreads { get; } = EmulatedDevices.Parse("2").ThreadsPerDevice!.Value;

    /// <summary>Emulated device <paramref name="ordinal"/> (0 or 1) as a backend with a context of its own.</summary>
    public static CudaBackend Backend(int ordinal, long? memoryLimitBytes = null) =>
        new(new EmulatedDevice(memoryLimitBytes: memoryLimitBytes, ordinal: ordinal, threads: ordinal == 0 ? null : SecondThreads));

    /// <summary>The studio's and the CLI's device names mapped onto <see cref="Backend"/> (the CPU as itself).</summary>
    public static IBackend Open(DeviceName device, long? memoryLimitBytes = null) => device.Backend switch
    {
        "cpu" => TestBackends.Create("cpu"),
        "cuda-emulated" => Backend(device.Ordinal, memoryLimitBytes),
        _ => throw new ArgumentException($"tests open cpu and cuda-emulated devices, not {device}"),
    };
}

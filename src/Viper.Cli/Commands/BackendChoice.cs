using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Emulation;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>The `--backend` values the commands accept, and the backend each device name opens.</summary>
internal static class BackendChoice
{
    public static string[] Names { get; } = [.. DeviceName.Backends];

    /// <summary>Throws DllNotFoundException or CudaException when the named device cannot be opened.</summary>
    public static IBackend Create(string name, int? threads = null) => Create(DeviceName.Parse(name, "--backend"), threads);

    /// <summary>
    /// A backend on <paramref name="device"/>; GPU backends on one device share its context (<see cref="GpuContexts"/>).
    /// <paramref name="threads"/> is the CPU backend's thread budget.
    /// </summary>
    public static IBackend Create(DeviceName device, int? threads = null) => device.Backend switch
    {
        "cuda" => GpuContexts.Gpu(device.Ordinal),
        "cuda-emulated" => EmulatedDevice.IsAvailable
            ? GpuContexts.Emulated(device.Ordinal)
            : throw new DllNotFoundException("the emulated CUDA device is not built: run tools/emu/build.sh"),
        "cpu" => new CpuBackend(threads),
        _ => throw new ArgumentException($"unknown backend '{device.Backend}' (cpu, cuda, cuda-emulated)"),
    };
}

using Viper.Backends.Cpu;
using Viper.Cuda.Backend;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>The `--backend` values the commands accept, and the backend each names.</summary>
internal static class BackendChoice
{
    public static string[] Names { get; } = ["cpu", "cuda", "cuda-emulated"];

    /// <summary>Throws DllNotFoundException or CudaException when the named device cannot be opened.</summary>
    public static IBackend Create(string name, int? threads = null) => name switch
    {
        "cuda" => new CudaBackend(new DriverDevice()),
        "cuda-emulated" => EmulatedDevice.IsAvailable
            ? new CudaBackend(new EmulatedDevice())
            : throw new DllNotFoundException("the emulated CUDA device is not built: run tools/emu/build.sh"),
        "cpu" => new CpuBackend(threads),
        _ => throw new ArgumentException($"unknown backend '{name}' (cpu, cuda, cuda-emulated)"),
    };
}

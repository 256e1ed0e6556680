using System.CommandLine;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper devices`: the devices `--device`, `--place` and `--backend` can name — every GPU the driver presents (after
/// CUDA_VISIBLE_DEVICES) with its memory, SMs and compute capability, and the emulated devices VIPER_EMU_DEVICES configures.
/// </summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List the GPUs and emulated devices that --device and --place can name. " + ExitCodes.Help);
        command.SetAction(_ => CliErrors.Run(List));
        return command;
    }

    private static int List()
    {
        CliOutput.Line($"cpu: {Environment.ProcessorCount} cores, {ByteSize.Format(HostMemory.AvailableBytes())} RAM available");
        if (DriverDevice.WhyUnavailable() is { } why)
        {
            CliOutput.Line($"cuda: none ({why})");
        }
        else
        {
            for (int i = 0, count = DriverDevice.Count(); i < count; i++)
            {
                using var gpu = new DriverDevice(i);
                CliOutput.Line(string.Create(CultureInfo.InvariantCulture,
                    $"cuda:{i}: {gpu.Name}, {ByteSize.Format(gpu.TotalMemoryBytes)} ({ByteSize.Format(gpu.FreeMemoryBytes)} free), {gpu.MultiprocessorCount} SMs, sm_{gpu.ComputeCapability.Major}{gpu.ComputeCapability.Minor}"));
            }
        }

        if (!EmulatedDevice.IsAvailable)
        {
            CliOutput.Line("cuda-emulated: none (the emulator is not built: tools/emu/build.sh)");
            return ExitCodes.Ok;
        }

        EmulatedDevices emulated = EmulatedDevices.FromEnvironment();
        for (int i = 0; i < emulated.Count; i++)
        {
            string memory = emulated.MemoryLimits[i] is { } limit ? $"{ByteSize.Format(limit)} limit" : "the host's RAM";
            string threads = emulated.ThreadsPerDevice is { } t ? $"{t} host thread(s)" : "every core";
            CliOutput.Line($"cuda-emulated:{i}: {memory}, {threads} ({EmulatedDevices.Variable})");
        }

        return ExitCodes.Ok;
    }
}

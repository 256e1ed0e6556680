using Viper.Cuda.Driver;
using Viper.Imaging;
using Viper.Weights;

namespace Viper.Cli.Terminal;

/// <summary>The exceptions a command reports as an input or model error (exit 2) with their message alone, no stack trace.</summary>
internal static class CliErrors
{
    public static bool IsInputError(Exception e) =>
        e is ArgumentException or FormatException or IOException or UnauthorizedAccessException or ModelConfigException or WeightsException
            or SafeTensorsFormatException or ImageFormatException or DllNotFoundException or CudaException or OutOfMemoryException;
}

using Viper.Cuda.Driver;
using Viper.Imaging;
using Viper.Weights;

namespace Viper.Cli.Terminal;

/// <summary>The exceptions a command reports as an input or model error (exit 2) with their message alone, no stack trace.</summary>
internal static class CliErrors
{
    /// <summary>An exception no input explains — a bug: said in one line; the stack trace only with VIPER_DEBUG=1.</summary>
    public static int Internal(Exception e)
    {
        if (Environment.GetEnvironmentVariable("VIPER_DEBUG") == "1")
        {
            Console.Error.WriteLine(e);
        }

        return CliOutput.Error($"internal error ({e.GetType().Name}): {e.Message} (please report it with the command line; VIPER_DEBUG=1 shows where it happened)");
    }

    public static bool IsInputError(Exception e) =>
        e is ArgumentException or FormatException or IOException or UnauthorizedAccessException or ModelConfigException or WeightsException
            or SafeTensorsFormatException or ImageFormatException or InvalidDataException or DllNotFoundException or CudaException or OutOfMemoryException;

    /// <summary>A command's body with its errors reported as exit codes: usage 1, input or model 2, cancelled 130, anything else internal.</summary>
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (OperationCanceledException)
        {
            return CliOutput.Error("cancelled", ExitCodes.Cancelled);
        }
        catch (UsageException e)
        {
            return CliOutput.Error(e.Message, ExitCodes.Usage);
        }
        catch (Exception e) when (IsInputError(e))
        {
            return CliOutput.Error(e.Message);
        }
        catch (Exception e)
        {
            return Internal(e);
        }
    }
}

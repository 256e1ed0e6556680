namespace Viper.Cli.Terminal;

/// <summary>
/// Messages for people and logs. Errors and warnings go to stderr as plain lines, never through the table/markup console
/// (which wraps at 80 columns when output is redirected and would break paths).
/// </summary>
internal static class CliOutput
{
    public static int Error(string message, int exitCode = ExitCodes.Input)
    {
        Console.Error.WriteLine($"error: {message}");
        return exitCode;
    }

    public static void Warning(string message) => Console.Error.WriteLine($"warning: {message}");

    /// <summary>A plain line on stdout (paths and numbers kept whole whatever the terminal width).</summary>
    public static void Line(string message) => Console.Out.WriteLine(message);

    /// <summary>True when stdout is a terminal that can draw live progress bars.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive;
}

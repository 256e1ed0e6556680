namespace Viper.Cli.Terminal;

/// <summary>The process exit codes every command uses (also listed in <c>viper --help</c>).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The command line itself is wrong: an unknown option, a value that does not parse or is out of range.</summary>
    public const int Usage = 1;

    /// <summary>A file or model the command line names is missing or invalid, or the run failed on it.</summary>
    public const int Input = 2;

    /// <summary>Cancelled (Ctrl+C), as shells report SIGINT.</summary>
    public const int Cancelled = 130;

    public const string Help = "Exit codes: 0 success, 1 usage error (bad option or value), 2 input or model error, 130 cancelled.";
}

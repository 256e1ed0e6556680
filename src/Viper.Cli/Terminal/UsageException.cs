namespace Viper.Cli.Terminal;

/// <summary>An option whose value is wrong in a way only known after reading something (exit code 1); the message names the option.</summary>
internal sealed class UsageException(string message) : Exception(message);

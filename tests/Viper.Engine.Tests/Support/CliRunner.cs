using System.Diagnostics;

namespace Viper.Engine.Tests.Support;

/// <summary>Runs the built `viper` CLI as a separate process (stdout and stderr redirected, so not a terminal).</summary>
public static class CliRunner
{
    // The CLI is built with the tests (same configuration): src/Viper.Cli/bin/<configuration>/net10.0/viper.dll.
    private static string Dll { get; } = Path.Combine(RepoPaths.Root, "src", "Viper.Cli", "bin",
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name, "net10.0", "viper.dll");

    public static CliResult Run(string workingDirectory, params string[] args) => Run(workingDirectory, new Dictionary<string, string>(), args);

    /// <summary>Runs `viper ARGS` with <paramref name="environment"/> added to this process's environment.</summary>
    public static CliResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using Process process = Start(workingDirectory, defaultSigint: false, environment, args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"viper {string.Join(' ', args)} ran over 5 minutes");
        }

        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts `viper ARGS` and returns the running process (its output redirected; the caller reads and ends it).</summary>
    public static Process Start(string workingDirectory, params string[] args) => Start(workingDirectory, defaultSigint: false, args);

    /// <param name="defaultSigint">
    /// Start the CLI with SIGINT at its default disposition (coreutils' <c>env --default-signal=INT</c>): a test suite run
    /// as a background job of a non-interactive shell inherits SIGINT ignored, the runtime then installs no handler for
    /// it, and a test of Ctrl+C would send a signal the process never sees.
    /// </param>
    public static Process Start(string workingDirectory, bool defaultSigint, params string[] args) =>
        Start(workingDirectory, defaultSigint, new Dictionary<string, string>(), args);

    private static Process Start(string workingDirectory, bool defaultSigint, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        if (!File.Exists(Dll))
        {
            throw new FileNotFoundException($"the viper CLI is not built: {Dll}");
        }

        var start = new ProcessStartInfo(defaultSigint ? "env" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        if (defaultSigint)
        {
            start.ArgumentList.Add("--default-signal=INT");
            start.ArgumentList.Add("dotnet"); // env execs it: the same process id
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

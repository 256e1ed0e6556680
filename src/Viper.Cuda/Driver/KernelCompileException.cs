using System.Text.RegularExpressions;

namespace Viper.Cuda.Driver;

/// <summary>NVRTC rejected a kernel source: the first error's file and line, and the whole log.</summary>
public sealed partial class KernelCompileException : Exception
{
    public KernelCompileException(string source, string options, string log)
        : base(Describe(source, options, log))
    {
        (File, Line) = FirstError(source, log);
        Log = log;
    }

    public string File { get; }

    public int Line { get; }

    public string Log { get; }

    /// <summary>NVRTC logs "name(line): error: text"; the first such line locates the failure.</summary>
    public static (string File, int Line) FirstError(string source, string log)
    {
        Match m = ErrorLine().Match(log);
        return m.Success ? (m.Groups["file"].Value, int.Parse(m.Groups["line"].Value)) : (source, 0);
    }

    private static string Describe(string source, string options, string log)
    {
        (string file, int line) = FirstError(source, log);
        return $"NVRTC could not compile {source} ({options}): first error at {file}:{line}{Environment.NewLine}{log.TrimEnd()}";
    }

    [GeneratedRegex(@"^(?<file>[^\s(]+)\((?<line>\d+)\): (catastrophic )?error", RegexOptions.Multiline)]
    private static partial Regex ErrorLine();
}

using System.Diagnostics;

namespace Viper.Engine.Tests.Support;

/// <summary>A `viper studio` (or `viper serve`) process on a free loopback port, with its output collected.</summary>
public sealed class RunningStudio : IDisposable
{
    private readonly System.Text.StringBuilder _stderr = new();

    private RunningStudio(Process process, Uri address) => (Process, Address) = (process, address);

    public Process Process { get; }

    public Uri Address { get; }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static Task<RunningStudio> Start(string workspace, params string[] args) => Launch("studio", workspace, args);

    /// <param name="command">studio, or serve (the same page and API with its jobs on Redis).</param>
    public static async Task<RunningStudio> Launch(string command, string workspace, params string[] args)
    {
        Process process = CliRunner.Start(workspace, defaultSigint: true, [command, "--listen", "127.0.0.1:0", "--workspace", Path.Combine(workspace, "ws"), .. args]);
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2)) is { } line)
        {
            lines.Add(line);
            int at = line.IndexOf("http://", StringComparison.Ordinal);
            if (line.StartsWith("Viper Studio on ", StringComparison.Ordinal) && at >= 0)
            {
                var studio = new RunningStudio(process, new Uri(line[at..line.IndexOf(' ', at)]));
                // Both pipes drained by threads of their own: a studio blocked writing to a full pipe could not exit, and
                // async reads need the test host's thread pool, which a long suite can leave busy.
                Drain(process.StandardError, text => { lock (studio._stderr) { studio._stderr.AppendLine(text); } });
                Drain(process.StandardOutput, _ => { });
                return studio;
            }
        }

        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"the studio did not start: {string.Join('\n', lines)}\n{await process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>The process's state and each thread's kernel wait channel (/proc), for a report when it does not exit.</summary>
    public string Threads()
    {
        try
        {
            string state = File.ReadLines($"/proc/{Process.Id}/status").First(l => l.StartsWith("State:", StringComparison.Ordinal));
            var channels = Directory.EnumerateDirectories($"/proc/{Process.Id}/task")
                .Select(t => File.ReadAllText(Path.Combine(t, "wchan"))).GroupBy(w => w).Select(g => $"{g.Key}×{g.Count()}");
            return $"{state}; thread wait channels: {string.Join(", ", channels)}";
        }
        catch (IOException e)
        {
            return $"(no /proc entry: {e.Message})";
        }
    }

    private static void Drain(StreamReader reader, Action<string> line)
    {
        var thread = new Thread(() =>
        {
            while (reader.ReadLine() is { } text)
            {
                line(text);
            }
        }) { IsBackground = true };
        thread.Start();
    }

    /// <summary>Ctrl+C, as a terminal sends it.</summary>
    public void Interrupt() => Process.Start("kill", ["-INT", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();

    /// <summary>The process's peak resident set (VmHWM in /proc/PID/status).</summary>
    public long PeakResidentBytes()
    {
        string line = File.ReadLines($"/proc/{Process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
    }
}

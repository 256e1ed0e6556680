using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Viper.Pipelines;

namespace Viper.Cli.Terminal;

/// <summary>
/// Shows a generation's progress: live bars per stage on a terminal; without one (a log, a pipe), one line per stage
/// when it completes, with 100 % and the stage's time, so logs stay readable.
/// </summary>
internal sealed class GenerationProgressView : IProgress<GenerationProgress>
{
    private readonly bool _interactive = CliOutput.Interactive;
    private readonly Dictionary<string, Stopwatch> _started = [];
    private readonly Dictionary<string, ProgressTask> _bars = [];
    private ProgressContext? _context;

    public void Report(GenerationProgress p)
    {
        if (!_started.TryGetValue(p.Stage, out Stopwatch? clock))
        {
            clock = _started[p.Stage] = Stopwatch.StartNew();
        }

        if (_context is not null)
        {
            if (!_bars.TryGetValue(p.Stage, out ProgressTask? bar))
            {
                bar = _bars[p.Stage] = _context.AddTask(p.Stage, maxValue: Math.Max(1, p.TotalSteps));
            }

            bar.Value = p.Step;
        }
        else if (p.Step == p.TotalSteps)
        {
            string steps = p.Stage is "base" or "refiner" ? $" ({p.Step}/{p.TotalSteps} steps)" : "";
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"{p.Stage}: 100%{steps} in {clock.Elapsed.TotalMilliseconds:F0} ms"));
        }
    }

    public void PrintTimings(GenerationResult result)
    {
        var table = new Table().AddColumn("stage").AddColumn(new TableColumn("time").RightAligned());
        foreach (StageTiming t in result.Timings)
        {
            string graph = t.GraphNodes is { } nodes ? $" (step graph: {nodes} nodes)" : "";
            table.AddRow(t.Stage + graph, $"{t.Elapsed.TotalMilliseconds:F0} ms");
        }

        AnsiConsole.Write(table);
    }

    /// <summary>Runs <paramref name="work"/> (a load, a generation) with this view showing the progress it reports.</summary>
    public T Show<T>(Func<T> work)
    {
        if (!_interactive)
        {
            return work();
        }

        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                _context = ctx;
                try
                {
                    result = work();
                }
                finally
                {
                    _context = null;
                }
            });
        return result;
    }
}

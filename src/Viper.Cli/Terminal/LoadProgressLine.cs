using System.Diagnostics;
using System.Globalization;
using Viper.Pipelines;

namespace Viper.Cli.Terminal;

/// <summary>
/// A model load's progress on stderr, for the commands whose stdout carries their answer (chat, preferences, score):
/// on a terminal one line updated in place; in a log one line when the load is done, with its time.
/// </summary>
internal sealed class LoadProgressLine(string what) : IProgress<GenerationProgress>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _percent = -1;

    public void Report(GenerationProgress p)
    {
        int percent = p.Percent;
        if (percent == _percent)
        {
            return;
        }

        _percent = percent;
        bool done = p.Step >= p.TotalSteps;
        string time = string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds:F1} s");
        if (_interactive)
        {
            Console.Error.Write(done ? $"\rloaded {what} in {time}\x1b[K\n" : $"\rloading {what} … {percent,3}%");
        }
        else if (done)
        {
            Console.Error.WriteLine($"loaded {what} in {time}");
        }
    }
}

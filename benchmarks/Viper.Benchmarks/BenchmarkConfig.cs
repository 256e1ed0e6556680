using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Viper.Benchmarks;

/// <summary>
/// In-process (no generated project to restore), few iterations: these ops take 1–500 ms each on two cores,
/// so 3 warm-ups and 10 measured iterations give a stable median. JSON export feeds benchmarks/report.py.
/// </summary>
public class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
        : this(warmups: 3, iterations: 10, TimeSpan.FromMinutes(5))
    {
    }

    // The in-process toolchain stops a case that runs past `timeout` (whole-image cases run for minutes).
    protected BenchmarkConfig(int warmups, int iterations, TimeSpan timeout)
    {
        AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(timeout, logOutput: true))
            .WithWarmupCount(warmups).WithIterationCount(iterations).WithLaunchCount(1).WithInvocationCount(1).WithUnrollFactor(1));
        AddColumn(StatisticColumn.Median);
        AddExporter(JsonExporter.Full);
        WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(80)); // full case names for report.py
    }
}

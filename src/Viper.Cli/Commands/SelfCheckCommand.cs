using System.CommandLine;
using Spectre.Console;
using Viper.Backends.Cpu;
using Viper.Cli.Diagnostics;
using Viper.Cli.Terminal;
using Viper.Cuda.Backend;
using Viper.Cuda.Driver;
using Viper.Cuda.Emulation;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>`viper self-check`: runs every op family once against its reference and prints a table.</summary>
internal static class SelfCheckCommand
{
    public static Command Create()
    {
        var backendOption = new Option<string>("--backend")
        {
            Description = "Backend to check: cpu, cuda (the GPU), or cuda-emulated (kernels on the emulated device; build it with tools/emu/build.sh)",
            DefaultValueFactory = _ => "cpu",
        };
        backendOption.AcceptOnlyFromAmong(BackendChoice.Names);
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)" };
        var command = new Command("self-check", "Run each op once against its scalar reference or invariant") { backendOption, threads };
        command.SetAction((result, cancellationToken) => Task.FromResult(Run(result.GetValue(backendOption)!, result.GetValue(threads), cancellationToken)));
        return command;
    }

    private static int Run(string backendName, int? threads, CancellationToken cancellationToken)
    {
        IBackend backend;
        try
        {
            backend = BackendChoice.Create(backendName, threads);
        }
        catch (Exception e) when (e is DllNotFoundException or CudaException)
        {
            return CliOutput.Error(e.Message);
        }

        using (backend)
        {
            return Check(backend, cancellationToken);
        }
    }

    private static int Check(IBackend backend, CancellationToken cancellationToken)
    {
        IReadOnlyList<SelfCheckResult> results = [];
        AnsiConsole.Progress().Start(ctx =>
        {
            ProgressTask task = ctx.AddTask($"self-check on {backend.Name}");
            var progress = new SynchronousProgress<SelfCheckProgress>(p =>
            {
                task.MaxValue = p.Total;
                task.Value = p.Done;
                task.Description = $"self-check on {backend.Name}: {p.Op}";
            });
            results = new OpSelfCheck(backend).Run(progress, cancellationToken);
        });

        var table = new Table().AddColumns("op", "case", "max error", "bound", "");
        foreach (SelfCheckResult r in results)
        {
            table.AddRow(r.Op, Markup.Escape(r.Shape), $"{r.MaxError:0.00e+00}", $"{r.Bound:0.00e+00}", r.Passed ? "[green]ok[/]" : "[red]FAIL[/]");
        }

        AnsiConsole.Write(table);
        int failed = results.Count(r => !r.Passed);
        AnsiConsole.MarkupLine(failed == 0 ? "[green]all {0} checks passed[/]" : "[red]{1} of {0} checks failed[/]", results.Count, failed);
        return failed == 0 ? 0 : 1;
    }
}

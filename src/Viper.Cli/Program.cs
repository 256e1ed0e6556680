using System.CommandLine;
using System.CommandLine.Invocation;
using Viper.Cli.Commands;
using Viper.Cli.Terminal;

var root = new RootCommand("Viper.Engine: personalized text-to-image inference (ViPer) on CUDA, with a CPU reference backend. " + ExitCodes.Help);
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(SelfCheckCommand.Create());
root.Subcommands.Add(DevicesCommand.Create());
root.Subcommands.Add(MakeTinyCommand.Create());
root.Subcommands.Add(ManifestCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(PreferencesCommand.Create());
root.Subcommands.Add(ScoreCommand.Create());
root.Subcommands.Add(EvaluateCommand.Create());
root.Subcommands.Add(AestheticEmbeddingCommand.Create());
root.Subcommands.Add(AestheticPersonalizeCommand.Create());
root.Subcommands.Add(StarterSetCommand.Create());
root.Subcommands.Add(StudioCommand.Create());
root.Subcommands.Add(WorkerCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(QuantizeCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
ParseResult parsed = root.Parse(args);

// A usage error is reported as such — every problem on stderr, then where the options are explained — instead of the
// whole help text, so the message is not lost in a log.
if (parsed.Action is ParseErrorAction)
{
    foreach (System.CommandLine.Parsing.ParseError error in parsed.Errors)
    {
        CliOutput.Error(error.Message);
    }

    Command command = parsed.CommandResult.Command;
    Console.Error.WriteLine(command == root ? "see: viper --help" : $"see: viper {command.Name} --help");
    return ExitCodes.Usage;
}

// A worker handles SIGTERM itself: it finishes its running job, however long (System.CommandLine would end the process 2 s in).
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = WorkerCommand.Owns(parsed) ? null : TimeSpan.FromSeconds(2) });

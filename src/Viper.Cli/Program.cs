using System.CommandLine;
using Viper.Cli.Commands;

var root = new RootCommand("Viper.Engine: personalized text-to-image inference (ViPer) on CUDA, with a CPU reference backend.");
root.Subcommands.Add(InspectCommand.Create());
root.Subcommands.Add(SelfCheckCommand.Create());
root.Subcommands.Add(MakeTinyCommand.Create());
root.Subcommands.Add(ManifestCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
return await root.Parse(args).InvokeAsync();

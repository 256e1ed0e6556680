using System.CommandLine;
using Viper.Backends.Cpu;
using Viper.Cli.Terminal;
using Viper.Models.Checkpoints;

namespace Viper.Cli.Commands;

/// <summary>`viper manifest NAME`: prints the weights manifest of a supported component from the model code itself.</summary>
internal static class ManifestCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("component") { Description = string.Join(", ", ComponentManifests.Names) };
        var command = new Command("manifest", "Print the tensors (names, shapes, dtypes) a supported checkpoint component must hold") { name };
        command.SetAction(result =>
        {
            try
            {
                using var cpu = new CpuBackend(1);
                Console.WriteLine(ComponentManifests.Of(result.GetValue(name)!, cpu).ToJson());
                return 0;
            }
            catch (ArgumentException e)
            {
                return CliOutput.Error(e.Message);
            }
        });
        return command;
    }
}

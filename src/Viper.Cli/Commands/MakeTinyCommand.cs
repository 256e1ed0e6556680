using System.CommandLine;
using Spectre.Console;
using Viper.Backends.Cpu;
using Viper.Models.Checkpoints;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>`viper make-tiny NAME --out DIR`: writes a random-weight checkpoint in the real on-disk layout.</summary>
internal static class MakeTinyCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("component")
        {
            Description = "A pipeline (" + string.Join(", ", TinyPipeline.Names) + ") or a CLIP component (" +
                string.Join(", ", ClipComponent.Known.Select(c => c.Name)) + "; full-size ones work too, slowly)",
        };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write config.json and model.safetensors into", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; one seed always writes the same weights", DefaultValueFactory = _ => 0 };
        var command = new Command("make-tiny", "Write a random-weight pipeline or checkpoint in the exact layout of the real one")
        {
            name, output, seed,
        };
        command.SetAction(result => Run(result.GetValue(name)!, result.GetValue(output)!, result.GetValue(seed)));
        return command;
    }

    private static int Run(string name, DirectoryInfo output, int seed)
    {
        try
        {
            using var cpu = new CpuBackend();
            if (TinyPipeline.Names.Contains(name))
            {
                TinyPipeline.Write(name, output.FullName, Path.Combine(AppContext.BaseDirectory, "assets", "clip-tokenizer"), cpu, seed);
            }
            else
            {
                TinyCheckpoint.Write(ClipComponent.Find(name), output.FullName, cpu, seed);
            }

            AnsiConsole.MarkupLine("wrote [green]{0}[/] (seed {1}) to {2}", Markup.Escape(name), seed, Markup.Escape(output.FullName));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            AnsiConsole.MarkupLine("[red]error:[/] {0}", Markup.Escape(e.Message));
            return 2;
        }
    }
}

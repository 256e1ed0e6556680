using System.CommandLine;
using Viper.Backends.Cpu;
using Viper.Cli.Terminal;
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
            Description = "A pipeline (" + string.Join(", ", TinyPipeline.Names) + "), an IDEFICS2 model (" + TinyIdefics2.Name + ") or a CLIP component (" +
                string.Join(", ", ClipComponent.Known.Select(c => c.Name)) + "; full-size ones work too, slowly)",
        };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write config.json and model.safetensors into", Required = true };
        var seed = new Option<int>("--seed") { Description = "Random seed; one seed always writes the same weights", DefaultValueFactory = _ => 0 };
        var variant = new Option<string?>("--variant")
        {
            Description = "Write every weight file only as this variant, in its dtype (fp16: model.fp16.safetensors with f16 tensors; bf16), as variant-only downloads are",
            HelpName = string.Join("|", TinyCheckpoint.Variants.Keys),
        };
        variant.AcceptOnlyFromAmong([.. TinyCheckpoint.Variants.Keys]);
        var command = new Command("make-tiny", "Write a random-weight pipeline or checkpoint in the exact layout of the real one. " + ExitCodes.Help)
        {
            name, output, seed, variant,
        };
        command.SetAction(result => Run(result.GetValue(name)!, result.GetValue(output)!, result.GetValue(seed), result.GetValue(variant)));
        return command;
    }

    private static int Run(string name, DirectoryInfo output, int seed, string? variant)
    {
        try
        {
            using var cpu = new CpuBackend();
            if (name == TinyIdefics2.Name)
            {
                TinyIdefics2.Write(output.FullName, Path.Combine(AppContext.BaseDirectory, "assets", "mistral-tokenizer", "tokenizer.model"), cpu, seed, variant);
            }
            else if (TinyPipeline.Names.Contains(name))
            {
                TinyPipeline.Write(name, output.FullName, Path.Combine(AppContext.BaseDirectory, "assets", "clip-tokenizer"), cpu, seed, variant);
            }
            else
            {
                TinyCheckpoint.Write(ClipComponent.Find(name), output.FullName, cpu, seed, variant);
            }

            CliOutput.Line($"wrote {name} (seed {seed}{(variant is null ? "" : $", {variant} variant")}) to {output.FullName}");
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return CliOutput.Error(e.Message);
        }
    }
}

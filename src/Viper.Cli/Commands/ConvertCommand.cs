using System.CommandLine;
using Viper.Backends.Cpu;
using Viper.Cli.Terminal;
using Viper.Models.SingleFile;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper convert INPUT --out OUTPUT`: a single-file checkpoint (A1111/ComfyUI layout, .safetensors or .ckpt) to a diffusers
/// pipeline folder that diffusers and the engine load, or a diffusers folder to one original-layout .safetensors file.
/// Tensors keep their stored dtype and bytes; configs, tokenizers and scheduler come from --config or the bundled defaults.
/// </summary>
internal static class ConvertCommand
{
    private static readonly Argument<string> Input = new("input") { Description = "A single-file checkpoint (.safetensors, .ckpt) or a diffusers pipeline folder" };
    private static readonly Option<string> Out = new("--out")
    {
        Description = "What to write (must not exist yet): a folder for a single-file input, a .safetensors file for a folder input", Required = true, HelpName = "path",
    };
    private static readonly Option<string?> Family = new("--family")
    {
        Description = "For a folder input: the single-file layout to write (sd1, sd2, sdxl, sdxl-refiner); default: from the folder (two text encoders: sdxl; bigG only: sdxl-refiner; an OpenCLIP (gelu) text encoder: sd2; else sd1)",
        HelpName = "family",
    };

    public static Command Create()
    {
        OptionKinds.OneOf(Family, "a single-file family", FamilyNames);
        var command = new Command("convert", "Convert a single-file checkpoint to a diffusers pipeline folder, or a folder to a single file. " + ExitCodes.Help)
        {
            Input, Out, ModelFileArguments.Config, Family,
        };
        command.SetAction((r, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(r, cancellationToken))));
        return command;
    }

    private static string[] FamilyNames => Enum.GetValues<SingleFileFamily>().Select(f => f.Name()).ToArray();

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        string input = ModelFileArguments.ModelPath(r.GetValue(Input)!, "input");
        string output = Path.GetFullPath(r.GetValue(Out)!);
        if (Directory.Exists(output) || File.Exists(output))
        {
            throw new UsageException($"--out {output}: already exists (convert writes a new one)");
        }

        string? config = r.GetValue(ModelFileArguments.Config) is { } folder ? ModelFolders.Pipeline(folder, "--config") : null;
        if (Directory.Exists(input))
        {
            if (config is not null)
            {
                throw new UsageException("--config applies to a single-file input; the folder has its own configs");
            }

            if (!output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                throw new UsageException($"--out {output}: a folder converts to one .safetensors file");
            }

            SingleFileFamily family = r.GetValue(Family) is { } name ? Enum.GetValues<SingleFileFamily>().First(f => f.Name() == name) : Infer(input);
            SingleFileConversion.ToSingleFile(input, output, family);
            CliOutput.Line($"wrote {output} ({family.Name()} layout)");
            return ExitCodes.Ok;
        }

        if (r.GetValue(Family) is not null)
        {
            throw new UsageException("--family applies to a folder input; a single file's family is read from its keys");
        }

        using var backend = new CpuBackend();
        using PipelineSource source = PipelineSource.Open(input, config);
        Console.Error.WriteLine($"{input}: a {source.SingleFile!.Family.Name()} checkpoint; configs from {source.Index.Folder}");
        SingleFileConversion.ToFolder(source, output, backend, component => Console.Error.WriteLine($"wrote {component}"), cancellationToken);
        if (source.Ignored.Count > 0)
        {
            CliOutput.Warning($"{source.Ignored.Count} stored tensor(s) no model part reads were left out, as diffusers leaves them: {SingleFileCheckpoint.Summarize(source.Ignored)}");
        }

        CliOutput.Line($"wrote {output}");
        return ExitCodes.Ok;
    }

    private static SingleFileFamily Infer(string folder)
    {
        using PipelineSource source = PipelineSource.Open(folder);
        List<string> encoders = source.TextEncoders.ToList();
        return encoders switch
        {
            ["text_encoder", "text_encoder_2"] => SingleFileFamily.StableDiffusionXl,
            ["text_encoder_2"] => SingleFileFamily.StableDiffusionXlRefiner,
            _ => source.TextConfig("text_encoder").HiddenAct == "gelu" ? SingleFileFamily.StableDiffusion2 : SingleFileFamily.StableDiffusion1,
        };
    }
}

using System.CommandLine;
using Viper.Cli.Terminal;
using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper starter-set`: a varied set of images for a person to comment on (<see cref="StarterSet"/>'s prompts across the
/// attribute categories), each PNG with its prompt and seed, and starter-set.json listing them; `viper studio --images`
/// offers them on its page.
/// </summary>
internal static class StarterSetCommand
{
    private static readonly Option<DirectoryInfo> Model = new("--model") { Description = "A diffusers pipeline folder (SDXL for ViPer)", Required = true, HelpName = "folder" };
    private static readonly Option<DirectoryInfo> Output = new("--out") { Description = "Folder for the images and starter-set.json (created)", Required = true, HelpName = "folder" };
    private static readonly Option<int> Count = OptionKinds.Int("--count", $"How many images (the first N of the {StarterSet.Prompts.Count} prompts, which take the categories in turn)", StarterSet.Prompts.Count, 1, StarterSet.Prompts.Count);
    private static readonly Option<int> Seed = OptionKinds.Int("--seed", "Seed of the first image; image i uses seed + i", 0, 0, int.MaxValue);
    private static readonly Option<int> Steps = OptionKinds.Int("--steps", "Denoising steps", 30, 1, 1000);
    private static readonly Option<float> Guidance = OptionKinds.Float("--guidance", "Classifier-free guidance scale", 5.0f, 0f, 100f);
    private static readonly Option<int?> Size = OptionKinds.OptionalInt("--size", "Width and height in pixels (default: the model's native size)", 8, 4096, "pixels");
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the text encoders and UNet");

    public static Command Create()
    {
        var command = new Command("starter-set", "Generate a varied set of images (style, palette, composition, mood, medium, texture, brushwork, lighting, shadow, perspective) for a person to comment on. " + ExitCodes.Help)
        {
            Model, Output, Count, Seed, Steps, Guidance, Size, Precision,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        string model = ModelFolders.Pipeline(r.GetValue(Model)!, "--model");

        PipelineGeometry geometry = PipelineGeometry.Read(model);
        if (r.GetValue(Size) is { } size && size % geometry.SizeMultiple != 0)
        {
            throw new UsageException($"--size {size}: this model's sizes are multiples of {geometry.SizeMultiple}");
        }

        string output = r.GetValue(Output)!.FullName;
        using IBackend backend = Devices.Create(r);
        using ViperPipeline pipeline = ViperPipeline.Load(model, backend, new PipelineOptions { DType = OptionKinds.ToDType(r.GetValue(Precision)!) },
            cancellationToken: cancellationToken);
        var template = new GenerationRequest
        {
            Prompt = StarterSet.Prompts[0].Prompt, Seed = (ulong)r.GetValue(Seed), Steps = r.GetValue(Steps), Guidance = r.GetValue(Guidance),
            Width = r.GetValue(Size), Height = r.GetValue(Size),
        };
        StarterSet.Generate(pipeline, template, output, r.GetValue(Count),
            (image, done, total) => Console.Error.WriteLine($"[{done}/{total}] {image.File}  {image.Category}: {image.Prompt}"), cancellationToken);
        CliOutput.Line($"wrote {r.GetValue(Count)} images and {StarterSet.ManifestName} to {output}");
        return ExitCodes.Ok;
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper evaluate`: personalized and plain images for a list of prompts, scored by ViPer's proxy metric against a
/// user's liked and disliked images; writes the images and a JSON report with the personalized-vs-plain accuracy.
/// </summary>
internal static class EvaluateCommand
{
    private static readonly Option<DirectoryInfo> Model = new("--model") { Description = "A diffusers pipeline folder (with model_index.json)", Required = true, HelpName = "folder" };
    private static readonly Option<FileInfo> Preferences = new("--preferences") { Description = "The user's preferences (JSON from `viper preferences`, or likes/dislikes)", Required = true, HelpName = "file" };
    private static readonly Option<FileInfo> Prompts = new("--prompts") { Description = "A text file with one prompt per line (blank lines skipped)", Required = true, HelpName = "file" };
    private static readonly Option<DirectoryInfo> Metric = new("--metric") { Description = "The IDEFICS2 folder the metric runs on", Required = true, HelpName = "folder" };
    private static readonly Option<DirectoryInfo?> MetricAdapter = new("--metric-adapter") { Description = "The metric's LoRA adapter (EPFL-VILAB/Metric-ViPer)", HelpName = "folder" };
    private static readonly Option<FileInfo[]> Liked = new("--liked") { Description = "An image the user liked (repeat; paired in order with --disliked)", Required = true, HelpName = "file" };
    private static readonly Option<FileInfo[]> Disliked = new("--disliked") { Description = "An image the user disliked (repeat)", Required = true, HelpName = "file" };
    private static readonly Option<int> Steps = OptionKinds.Int("--steps", "Denoising steps", 40, 1, 1000);
    private static readonly Option<int> Seed = OptionKinds.Int("--seed", "Seed of the first prompt; prompt i uses seed + i for both its images", 0, 0, int.MaxValue);
    private static readonly Option<DirectoryInfo> Output = new("--out") { Description = "Folder for the images and report.json (created)", Required = true, HelpName = "folder" };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of both models");
    private static readonly Option<string?> Weights = OptionKinds.LinearWeights("UNet's, text encoders' and metric's");

    public static Command Create()
    {
        var command = new Command("evaluate", "Score personalized against plain images with ViPer's proxy metric over a list of prompts. " + ExitCodes.Help)
        {
            Model, Preferences, Prompts, Metric, MetricAdapter, Liked, Disliked, Steps, Seed, Output, Precision, Weights,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        FileInfo[] liked = r.GetValue(Liked)!, disliked = r.GetValue(Disliked)!;
        if (liked.Length != disliked.Length)
        {
            throw new UsageException($"{liked.Length} --liked and {disliked.Length} --disliked images: the metric pairs them, so give as many of each");
        }

        RgbImage[] likedImages = [.. liked.Select(f => ImageArguments.Read(f, "--liked"))], dislikedImages = [.. disliked.Select(f => ImageArguments.Read(f, "--disliked"))];
        string[] prompts = ReadPrompts(r.GetValue(Prompts)!);
        FileInfo preferences = r.GetValue(Preferences)!;
        VisualPreference preference = preferences.Exists ? VisualPreference.Load(preferences.FullName)
            : throw new UsageException($"--preferences {preferences.FullName}: the file does not exist");
        string model = ModelFolders.Pipeline(r.GetValue(Model)!, "--model"), metric = ModelFolders.Model(r.GetValue(Metric)!, "--metric");

        string? adapter = ModelFolders.Adapter(r.GetValue(MetricAdapter), "--metric-adapter"); // before minutes of generation
        string output = r.GetValue(Output)!.FullName;
        Directory.CreateDirectory(output);
        DType dtype = OptionKinds.ToDType(r.GetValue(Precision)!);
        DType? weights = OptionKinds.ToWeightFormat(r.GetValue(Weights));
        using IBackend backend = Devices.Create(r);
        var template = new GenerationRequest { Prompt = prompts[0], Steps = r.GetValue(Steps), Seed = (ulong)r.GetValue(Seed) };
        EvaluationReport report = PersonalizationEvaluation.Run(
            () => ViperPipeline.Load(model, backend, new PipelineOptions { DType = dtype, LinearWeights = weights }, cancellationToken: cancellationToken),
            () => ProxyMetric.Load(metric, adapter, backend, dtype, new LoadProgressLine(metric), cancellationToken, weights), template, preference, prompts, likedImages, dislikedImages,
            (i, personalized, image) =>
            {
                string path = Path.Combine(output, $"{i:D3}-{(personalized ? "personalized" : "plain")}.png");
                PngWriter.Write(path, image);
                Console.Error.WriteLine($"wrote {path}");
            },
            cancellationToken);
        WriteReport(report, Path.Combine(output, "report.json"));
        foreach (EvaluatedPrompt row in report.Prompts)
        {
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"{row.PersonalizedScore:F4} vs {row.PlainScore:F4}  {(row.PersonalizedWins ? "personalized" : "plain")}  {row.Prompt}"));
        }

        CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"accuracy: {report.Accuracy:F3} ({report.Prompts.Count(p => p.PersonalizedWins)} of {report.Prompts.Count} prompts)"));
        return ExitCodes.Ok;
    }

    private static string[] ReadPrompts(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new UsageException($"--prompts {file.FullName}: the file does not exist");
        }

        string[] prompts = [.. File.ReadAllLines(file.FullName).Select(l => l.Trim()).Where(l => l.Length > 0)];
        return prompts.Length > 0 ? prompts : throw new UsageException($"--prompts {file.FullName}: no prompts in it");
    }

    private static void WriteReport(EvaluationReport report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            accuracy = report.Accuracy,
            prompts = report.Prompts.Select((p, i) => new
            {
                prompt = p.Prompt, seed = p.Seed, personalized = new { image = $"{i:D3}-personalized.png", score = p.PersonalizedScore },
                plain = new { image = $"{i:D3}-plain.png", score = p.PlainScore }, personalized_wins = p.PersonalizedWins,
            }),
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

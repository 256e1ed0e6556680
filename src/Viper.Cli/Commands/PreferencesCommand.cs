using System.CommandLine;
using Viper.Cli.Terminal;
using Viper.Pipelines;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper preferences`: the visual preference extractor (IDEFICS2 + VPE-ViPer) turns commented images into liked and
/// disliked attributes, streaming its text, and writes a preferences file that `viper generate --preferences` reads.
/// </summary>
internal static class PreferencesCommand
{
    internal static readonly Option<FileInfo> Comments = new("--comments") { Description = "Commented images: JSON [{\"image\": \"path\", \"comment\": \"text\"}, …], paths relative to the file (about 8 is best)", HelpName = "file" };
    internal static readonly Option<DirectoryInfo?> Extractor = new("--extractor") { Description = "The IDEFICS2 folder (HuggingFaceM4/idefics2-8b)", HelpName = "folder" };
    internal static readonly Option<DirectoryInfo?> Adapter = new("--adapter") { Description = "The extractor's LoRA adapter folder (EPFL-VILAB/VPE-ViPer)", HelpName = "folder" };
    internal static readonly Option<int> MaxNewTokens = OptionKinds.Int("--extractor-max-new-tokens", "Tokens the extractor may write (the authors': 2000)", 2000, 1, 32768);
    internal static readonly Option<float> RepetitionPenalty = OptionKinds.Float("--extractor-repetition-penalty", "The extractor's repetition penalty (the authors': 0.99)", 0.99f, 0f, 100f, minExclusive: true);
    private static readonly Option<FileInfo> Output = new("--out") { Description = "The preferences JSON to write", Required = true, HelpName = "file" };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the extractor (bf16 keeps the 8B model in 16 GB)");
    private static readonly Option<string?> Weights = OptionKinds.LinearWeights("extractor's");

    public static Command Create()
    {
        Comments.Required = true;
        var command = new Command("preferences", "Extract liked and disliked visual attributes from comments on images (ViPer's extractor). " + ExitCodes.Help)
        {
            Comments, Extractor, Adapter, MaxNewTokens, RepetitionPenalty, Output, Precision, Weights,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    /// <summary>Runs the extractor (streaming its text to stdout) and returns what it found; the model is released before returning.</summary>
    internal static ExtractedPreference Extract(ExtractorInputs inputs, IBackend backend, DType dtype, ChatOptions options, CancellationToken cancellationToken,
        DType? linearWeights = null)
    {
        Console.Error.WriteLine($"extracting preferences from {inputs.Comments.Count} commented image(s) with {inputs.Extractor} + {inputs.Adapter} …");
        using PreferenceExtractor extractor = PreferenceExtractor.Load(inputs.Extractor, inputs.Adapter, backend, dtype,
            new LoadProgressLine(inputs.Extractor), cancellationToken, linearWeights);
        ExtractedPreference extracted = extractor.Extract(inputs.Comments, inputs.Images, options, text => Console.Out.Write(text), cancellationToken);
        Console.Out.WriteLine();
        return extracted;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        ExtractorInputs inputs = ExtractorInputs.Read(r.GetValue(Comments)!, r.GetValue(Extractor), r.GetValue(Adapter));
        string output = r.GetValue(Output)!.FullName;
        if (Path.GetDirectoryName(output) is { } folder && !Directory.Exists(folder))
        {
            throw new UsageException($"--out {output}: the folder {folder} does not exist");
        }

        var options = new ChatOptions { MaxNewTokens = r.GetValue(MaxNewTokens), RepetitionPenalty = r.GetValue(RepetitionPenalty) };
        using IBackend backend = Devices.Create(r);
        ExtractedPreference extracted = Extract(inputs, backend, OptionKinds.ToDType(r.GetValue(Precision)!), options, cancellationToken,
            OptionKinds.ToWeightFormat(r.GetValue(Weights)));
        extracted.Save(output, inputs.CommentsPath, inputs.Extractor, inputs.Adapter);
        CliOutput.Line($"likes: {VisualPreference.Join(extracted.Preference.Likes)}");
        CliOutput.Line($"dislikes: {VisualPreference.Join(extracted.Preference.Dislikes)}");
        CliOutput.Line($"wrote {output}");
        return ExitCodes.Ok;
    }
}

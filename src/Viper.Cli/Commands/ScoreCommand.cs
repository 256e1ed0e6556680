using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Pipelines.Preferences;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper score`: ViPer's proxy metric — how likely a user who liked and disliked the given images is to like each query
/// image (IDEFICS2 + Metric-ViPer), one context computed once for all queries.
/// </summary>
internal static class ScoreCommand
{
    private static readonly Option<DirectoryInfo> Model = new("--model") { Description = "The IDEFICS2 folder (HuggingFaceM4/idefics2-8b)", Required = true, HelpName = "folder" };
    private static readonly Option<DirectoryInfo?> Adapter = new("--adapter") { Description = "The metric's LoRA adapter folder (EPFL-VILAB/Metric-ViPer)", HelpName = "folder" };
    private static readonly Option<FileInfo[]> Liked = new("--liked") { Description = "An image the user liked (repeat; as many as --disliked, paired in order)", HelpName = "file", Required = true };
    private static readonly Option<FileInfo[]> Disliked = new("--disliked") { Description = "An image the user disliked (repeat)", HelpName = "file", Required = true };
    private static readonly Option<FileInfo[]> Query = new("--query") { Description = "An image to score (repeat)", HelpName = "file", Required = true };
    private static readonly Option<bool> Json = new("--json") { Description = "Print the scores as JSON instead of a table" };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the model");
    private static readonly Option<string?> Weights = OptionKinds.LinearWeights("metric's");

    public static Command Create()
    {
        var command = new Command("score", "Score query images with ViPer's proxy metric against images a user liked and disliked. " + ExitCodes.Help)
        {
            Model, Adapter, Liked, Disliked, Query, Json, Precision, Weights,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        FileInfo[] liked = r.GetValue(Liked)!, disliked = r.GetValue(Disliked)!, queries = r.GetValue(Query)!;
        if (liked.Length != disliked.Length)
        {
            throw new UsageException($"{liked.Length} --liked and {disliked.Length} --disliked images: the metric pairs them, so give as many of each");
        }

        RgbImage[] likedImages = [.. liked.Select(f => ImageArguments.Read(f, "--liked"))], dislikedImages = [.. disliked.Select(f => ImageArguments.Read(f, "--disliked"))];
        RgbImage[] queryImages = [.. queries.Select(f => ImageArguments.Read(f, "--query"))];
        string model = ModelFolders.Model(r.GetValue(Model)!, "--model");
        string? adapter = ModelFolders.Adapter(r.GetValue(Adapter), "--adapter");

        using IBackend backend = Devices.Create(r);
        using ProxyMetric metric = ProxyMetric.Load(model, adapter, backend, OptionKinds.ToDType(r.GetValue(Precision)!), new LoadProgressLine(model), cancellationToken,
            OptionKinds.ToWeightFormat(r.GetValue(Weights)));
        IReadOnlyList<double> scores = metric.Score(dislikedImages, likedImages, queryImages, cancellationToken);
        if (r.GetValue(Json))
        {
            CliOutput.Line(JsonSerializer.Serialize(queries.Select((q, i) => new { query = q.FullName, score = scores[i] })));
            return ExitCodes.Ok;
        }

        int width = Math.Max(5, queries.Max(q => q.Name.Length));
        CliOutput.Line($"{"query".PadRight(width)}  score");
        for (int i = 0; i < queries.Length; i++)
        {
            CliOutput.Line($"{queries[i].Name.PadRight(width)}  {scores[i].ToString("F4", CultureInfo.InvariantCulture)}");
        }

        return ExitCodes.Ok;
    }
}

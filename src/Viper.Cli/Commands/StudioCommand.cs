using System.CommandLine;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Viper.Cli.Terminal;
using Viper.Runtime;
using Viper.Studio;
using Viper.Studio.Api;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper studio`: the local web page for the whole ViPer flow (pick and comment, extract, generate, compare, score),
/// served on 127.0.0.1 unless --listen says otherwise. Folders are checked before the server starts.
/// </summary>
internal static class StudioCommand
{
    internal static readonly Option<DirectoryInfo> Workspace = new("--workspace") { Description = "The session's folder: images, preferences.json (created)", DefaultValueFactory = _ => new DirectoryInfo("viper-studio"), HelpName = "folder" };
    internal static readonly Option<DirectoryInfo?> Images = new("--images") { Description = "Images to comment on, imported at start (e.g. a `viper starter-set` folder)", HelpName = "folder" };
    internal static readonly Option<string?> Model = new("--model") { Description = "The pipeline that generates (SDXL for ViPer): a diffusers folder or a single-file checkpoint", HelpName = "folder|file" };
    internal static readonly Option<DirectoryInfo?> LoraFolder = new("--lora-dir") { Description = "A folder of LoRA .safetensors files the page offers by name (each with a weight, per request)", HelpName = "folder" };
    internal static readonly Option<DirectoryInfo?> Metric = new("--metric") { Description = "The IDEFICS2 folder of the proxy metric (scores are shown only with one)", HelpName = "folder" };
    internal static readonly Option<DirectoryInfo?> MetricAdapter = new("--metric-adapter") { Description = "The metric's LoRA adapter (EPFL-VILAB/Metric-ViPer)", HelpName = "folder" };
    internal static readonly Option<string> Listen = new("--listen") { Description = "Address and port to serve on; anything but loopback exposes your models and images to the network", DefaultValueFactory = _ => "127.0.0.1:5170", HelpName = "host:port" };
    internal static readonly Option<int> MaxUploadMiB = OptionKinds.Int("--max-upload-mib", "Largest accepted upload, per file, in MiB", 20, 1, 1024);
    internal static readonly DeviceArguments Devices = new("extractor", "generator", "metric");
    internal static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of every model");
    internal static readonly Option<string?> Weights = OptionKinds.LinearWeights("models'");

    public static Command Create()
    {
        var command = new Command("studio", "Serve the local web page for the ViPer flow: pick and comment on images, extract preferences, generate, compare and score. " + ExitCodes.Help)
        {
            Images, Listen,
        };
        foreach (Option option in ModelOptions)
        {
            command.Options.Add(option);
        }

        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken).GetAwaiter().GetResult())));
        return command;
    }

    /// <summary>The options every model host shares (the studio, a worker): the models, where they run, the workspace.</summary>
    internal static IEnumerable<Option> ModelOptions =>
    [
        Workspace, Model, PreferencesCommand.Extractor, PreferencesCommand.Adapter, PreferencesCommand.MaxNewTokens, PreferencesCommand.RepetitionPenalty,
        Metric, MetricAdapter, MaxUploadMiB, Precision, Weights, ModelFileArguments.Config, ModelFileArguments.Embeddings, LoraFolder,
    ];

    private static async Task<int> Run(ParseResult r, CancellationToken cancellationToken)
    {
        StudioOptions options = ReadOptions(r) with { Url = Url(r.GetValue(Listen)!) };
        using IHost host = StudioHost.CreateBuilder(options).Build();
        return await Serve(host, options, cancellationToken);
    }

    /// <summary>The studio's options from the command line, every folder checked before anything starts.</summary>
    internal static StudioOptions ReadOptions(ParseResult r)
    {
        string? model = r.GetValue(Model) is { } path ? ModelFileArguments.ModelPath(path, "--model") : null;
        string? config = r.GetValue(ModelFileArguments.Config) is { } configFolder ? ModelFolders.Pipeline(configFolder, "--config") : null;
        if (config is not null && (model is null || Directory.Exists(model)))
        {
            throw new UsageException("--config applies to a single-file --model");
        }

        DirectoryInfo? loras = r.GetValue(LoraFolder);
        if (loras is not null && !loras.Exists)
        {
            throw new UsageException($"--lora-dir {loras.FullName}: the folder does not exist");
        }

        DirectoryInfo? extractor = r.GetValue(PreferencesCommand.Extractor), adapter = r.GetValue(PreferencesCommand.Adapter);
        if ((extractor is null) != (adapter is null))
        {
            throw new UsageException("--extractor and --adapter go together (the IDEFICS2 folder and the VPE-ViPer adapter)");
        }

        DirectoryInfo? images = r.GetValue(Images);
        if (images is not null && !images.Exists)
        {
            throw new UsageException($"--images {images.FullName}: the folder does not exist");
        }

        DeviceName main = Devices.Name(r);
        IReadOnlyDictionary<string, DeviceName> placement = Devices.Placement(r);
        int? threads = r.GetValue(Devices.Threads);
        return new StudioOptions
        {
            Workspace = r.GetValue(Workspace)!.FullName,
            StarterFolder = images?.FullName,
            Generator = model,
            GeneratorConfig = config,
            Embeddings = ModelFileArguments.ReadEmbeddings(r.GetValue(ModelFileArguments.Embeddings)),
            LoraFolder = loras?.FullName,
            Extractor = extractor is null ? null : ModelFolders.Model(extractor, "--extractor"),
            ExtractorAdapter = ModelFolders.Adapter(adapter, "--adapter"),
            ExtractorOptions = new() { MaxNewTokens = r.GetValue(PreferencesCommand.MaxNewTokens), RepetitionPenalty = r.GetValue(PreferencesCommand.RepetitionPenalty) },
            Metric = r.GetValue(Metric) is { } metric ? ModelFolders.Model(metric, "--metric") : null,
            MetricAdapter = ModelFolders.Adapter(r.GetValue(MetricAdapter), "--metric-adapter"),
            Device = main,
            Placement = placement,
            Backend = device => BackendChoice.Create(device, threads),
            DType = OptionKinds.ToDType(r.GetValue(Precision)!),
            LinearWeights = OptionKinds.ToWeightFormat(r.GetValue(Weights)),
            MaxUploadBytes = (long)r.GetValue(MaxUploadMiB) << 20,
        };
    }

    internal static async Task<int> Serve(IHost host, StudioOptions options, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> problems = StudioHost.Prepare(host);
        foreach (string problem in problems)
        {
            CliOutput.Warning($"--images: skipped {problem}");
        }

        await host.StartAsync(cancellationToken);
        string address = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        CliOutput.Line($"Viper Studio on {address} (workspace {options.Workspace}); Ctrl+C stops it");
        await host.WaitForShutdownAsync(cancellationToken);
        return ExitCodes.Ok;
    }

    internal static string Url(string listen)
    {
        int colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen[(colon + 1)..], out int port) || port is < 0 or > 65535)
        {
            throw new UsageException($"--listen {listen}: expected host:port, e.g. 127.0.0.1:5170");
        }

        if (!LocalRequestsOnly.IsLoopback(listen[..colon]))
        {
            CliOutput.Warning($"--listen {listen}: not a loopback address — anyone who can reach this machine can use the studio");
        }

        return $"http://{listen}";
    }
}

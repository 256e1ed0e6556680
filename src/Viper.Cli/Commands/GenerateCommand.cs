using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Viper.Cuda.Driver;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Schedulers;
using Viper.Weights;

namespace Viper.Cli.Commands;

/// <summary>`viper generate`: a personalized image from a diffusers pipeline folder, a prompt and a visual preference.</summary>
internal static class GenerateCommand
{
    private static readonly Option<DirectoryInfo> Model = new("--model") { Description = "A diffusers pipeline folder (model_index.json)", Required = true };
    private static readonly Option<DirectoryInfo?> Refiner = new("--refiner") { Description = "An SDXL refiner pipeline folder" };
    private static readonly Option<string> Prompt = new("--prompt") { Description = "The prompt", Required = true };
    private static readonly Option<string> Negative = new("--negative-prompt") { Description = "The negative prompt", DefaultValueFactory = _ => "" };
    private static readonly Option<string?> Likes = new("--likes") { Description = "Liked visual attributes (VP+), comma-separated" };
    private static readonly Option<string?> Dislikes = new("--dislikes") { Description = "Disliked visual attributes (VP−), comma-separated" };
    private static readonly Option<FileInfo?> Preferences = new("--preferences")
    {
        Description = "A preference file: JSON {\"likes\": [...], \"dislikes\": [...]}, or the extractor's 'Liked Art Features: … Disliked Art Features: …' text",
    };

    private static readonly Option<float> Beta = new("--beta") { Description = "β₊ = β₋, the weight of the preference", DefaultValueFactory = _ => 0.85f };
    private static readonly Option<float?> BetaNegative = new("--beta-negative") { Description = "β₋ when it differs from --beta (reference form)" };
    private static readonly Option<string> Form = new("--form") { Description = "reference (the authors' code) or paper (eq. 1 and 3)", DefaultValueFactory = _ => "reference" };
    private static readonly Option<bool> ChunkLongText = new("--chunk-long-text") { Description = "Encode preference text over 77 tokens in windows instead of truncating" };
    private static readonly Option<float> Guidance = new("--guidance") { Description = "Guidance scale w", DefaultValueFactory = _ => 5.0f };
    private static readonly Option<int> Steps = new("--steps") { Description = "Denoising steps", DefaultValueFactory = _ => 40 };
    private static readonly Option<string> SchedulerName = new("--scheduler") { Description = string.Join(", ", SchedulerKind.Names), DefaultValueFactory = _ => "euler" };
    private static readonly Option<int?> Width = new("--width") { Description = "Image width (default: the model's native size)" };
    private static readonly Option<int?> Height = new("--height") { Description = "Image height (default: the model's native size)" };
    private static readonly Option<ulong> Seed = new("--seed") { Description = "Seed of the torch-compatible noise generator", DefaultValueFactory = _ => 0UL };
    private static readonly Option<int> Batch = new("--batch") { Description = "Images per prompt", DefaultValueFactory = _ => 1 };
    private static readonly Option<double> DenoisingEnd = new("--denoising-end") { Description = "Where the refiner takes over", DefaultValueFactory = _ => 0.8 };
    private static readonly Option<string> Backend = new("--backend") { Description = "cpu, cuda or cuda-emulated", DefaultValueFactory = _ => "cpu" };
    private static readonly Option<string> Precision = new("--dtype") { Description = "f32, f16 or bf16 for the text encoders and UNet", DefaultValueFactory = _ => "f32" };
    private static readonly Option<bool> CudaGraphs = new("--cuda-graphs")
    {
        Description = "CUDA backends: record each step's UNet evaluation once as a graph and replay it (holds the step's activations for the stage)",
    };
    private static readonly Option<FileInfo> Output = new("--out") { Description = "Output PNG (image i of a batch gets -i before the extension)", DefaultValueFactory = _ => new FileInfo("viper.png") };

    public static Command Create()
    {
        Form.AcceptOnlyFromAmong("reference", "paper");
        SchedulerName.AcceptOnlyFromAmong([.. SchedulerKind.Names]);
        Backend.AcceptOnlyFromAmong(BackendChoice.Names);
        Precision.AcceptOnlyFromAmong("f32", "f16", "bf16");
        var command = new Command("generate", "Generate images personalized with a visual preference (ViPer)")
        {
            Model, Refiner, Prompt, Negative, Likes, Dislikes, Preferences, Beta, BetaNegative, Form, ChunkLongText, Guidance, Steps, SchedulerName,
            Width, Height, Seed, Batch, DenoisingEnd, Backend, Precision, CudaGraphs, Output,
        };
        command.SetAction((result, cancellationToken) => Task.FromResult(Run(result, cancellationToken)));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        try
        {
            VisualPreference? preference = ReadPreference(r);
            float beta = r.GetValue(Beta);
            var request = new GenerationRequest
            {
                Prompt = r.GetValue(Prompt)!, NegativePrompt = r.GetValue(Negative)!, Preference = preference, BetaPositive = beta,
                BetaNegative = r.GetValue(BetaNegative) ?? beta, Form = r.GetValue(Form) == "paper" ? ViperForm.Paper : ViperForm.Reference,
                LongText = r.GetValue(ChunkLongText) ? LongTextMode.Chunk : LongTextMode.Truncate, Guidance = r.GetValue(Guidance),
                Steps = r.GetValue(Steps), Scheduler = r.GetValue(SchedulerName)!, Width = r.GetValue(Width), Height = r.GetValue(Height),
                Seed = r.GetValue(Seed), Batch = r.GetValue(Batch), DenoisingEnd = r.GetValue(DenoisingEnd),
            };
            var options = new PipelineOptions
            {
                DType = r.GetValue(Precision) switch { "f16" => DType.F16, "bf16" => DType.BF16, _ => DType.F32 },
                RefinerFolder = r.GetValue(Refiner)?.FullName,
                CaptureSteps = r.GetValue(CudaGraphs),
            };
            using IBackend backend = BackendChoice.Create(r.GetValue(Backend)!);
            using ViperPipeline pipeline = ViperPipeline.Load(r.GetValue(Model)!.FullName, backend, options, null, cancellationToken);
            GenerationResult result = RunWithProgress(pipeline, request, cancellationToken);
            Save(result, request, r.GetValue(Output)!, r.GetValue(Model)!.FullName);
            PrintTimings(result);
            return 0;
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]");
            return 130;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException or
                                       ModelConfigException or WeightsException or DllNotFoundException or CudaException or OutOfMemoryException)
        {
            AnsiConsole.MarkupLine("[red]error:[/] {0}", Markup.Escape(e.Message));
            return 2;
        }
    }

    private static VisualPreference? ReadPreference(ParseResult r)
    {
        if (r.GetValue(Preferences) is { } file)
        {
            if (r.GetValue(Likes) is not null || r.GetValue(Dislikes) is not null)
            {
                throw new ArgumentException("give either --preferences or --likes/--dislikes, not both");
            }

            string text = File.ReadAllText(file.FullName);
            return text.TrimStart().StartsWith('{') ? VisualPreference.Load(file.FullName) : VisualPreference.ParseExtractorOutput(text);
        }

        return r.GetValue(Likes) is null && r.GetValue(Dislikes) is null ? null : VisualPreference.FromLists(r.GetValue(Likes), r.GetValue(Dislikes));
    }

    private static GenerationResult RunWithProgress(ViperPipeline pipeline, GenerationRequest request, CancellationToken cancellationToken)
    {
        GenerationResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                var progress = new Progress(p =>
                {
                    if (!tasks.TryGetValue(p.Stage, out ProgressTask? task))
                    {
                        task = tasks[p.Stage] = ctx.AddTask(p.Stage, maxValue: Math.Max(1, p.TotalSteps));
                    }

                    task.Value = p.Step;
                });
                result = pipeline.Generate(request, progress, cancellationToken);
            });
        return result!;
    }

    private static void Save(GenerationResult result, GenerationRequest request, FileInfo output, string model)
    {
        var text = new Dictionary<string, string>
        {
            ["Software"] = "Viper.Engine",
            ["parameters"] = Parameters(request, model),
        };
        for (int i = 0; i < result.Images.Count; i++)
        {
            string path = result.Images.Count == 1
                ? output.FullName
                : Path.Combine(output.DirectoryName ?? ".", $"{Path.GetFileNameWithoutExtension(output.Name)}-{i}{output.Extension}");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            PngWriter.Write(path, result.Images[i], text);
            AnsiConsole.MarkupLine("wrote [green]{0}[/]", Markup.Escape(path));
        }
    }

    // One line per setting, like the "parameters" chunk other SD tools write, so the image says how it was made.
    private static string Parameters(GenerationRequest q, string model) => string.Join('\n',
        $"prompt: {q.Prompt}", $"negative prompt: {q.NegativePrompt}",
        $"likes: {VisualPreference.Join(q.Preference?.Likes ?? [])}", $"dislikes: {VisualPreference.Join(q.Preference?.Dislikes ?? [])}",
        string.Create(CultureInfo.InvariantCulture,
            $"form: {q.Form}, beta+: {q.BetaPositive}, beta-: {q.BetaNegative}, guidance: {q.Guidance}, steps: {q.Steps}, scheduler: {q.Scheduler}, seed: {q.Seed}, batch: {q.Batch}"),
        $"model: {model}");

    private static void PrintTimings(GenerationResult result)
    {
        var table = new Table().AddColumn("stage").AddColumn(new TableColumn("time").RightAligned());
        foreach (StageTiming t in result.Timings)
        {
            string graph = t.GraphNodes is { } nodes ? $" (step graph: {nodes} nodes)" : "";
            table.AddRow(t.Stage + graph, $"{t.Elapsed.TotalMilliseconds:F0} ms");
        }

        AnsiConsole.Write(table);
    }

    private sealed class Progress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}

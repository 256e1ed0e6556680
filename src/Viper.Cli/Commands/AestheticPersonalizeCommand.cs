using System.CommandLine;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Models.Tokenizers;
using Viper.Pipelines;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper aesthetic-personalize`: aesthetic gradients on one prompt, written out (the loss before and after each Adam
/// step and the personalized last_hidden_state) so the method can be checked against the reference implementation.
/// </summary>
internal static class AestheticPersonalizeCommand
{
    private static readonly Option<DirectoryInfo> Clip = new("--clip")
    {
        Description = "The CLIP model folder with its tokenizer (openai/clip-vit-large-patch14 for SD1.x)", Required = true, HelpName = "folder",
    };
    private static readonly Option<FileInfo> Embedding = new("--embedding") { Description = "The aesthetic embedding (.pt or .safetensors)", Required = true, HelpName = "file" };
    private static readonly Option<string> Prompt = new("--prompt") { Description = "The prompt to personalize", Required = true, HelpName = "text" };
    private static readonly Option<int> Steps = AestheticArguments.Steps("--steps");
    private static readonly Option<double> LearningRate = AestheticArguments.LearningRate("--lr");
    private static readonly Option<FileInfo> Output = new("--out")
    {
        Description = "A .safetensors file: losses (T + 1), last_hidden_state (1, 77, C) f32 and input_ids", Required = true, HelpName = "file",
    };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the text model (Adam keeps f32 master weights)");

    public static Command Create()
    {
        var command = new Command("aesthetic-personalize",
            "Personalize a prompt's CLIP text encoder toward an aesthetic embedding (aesthetic gradients) and write the losses and the conditioning. " + ExitCodes.Help)
        {
            Clip, Embedding, Prompt, Steps, LearningRate, Output, Precision,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        string clipFolder = AestheticArguments.ClipFolder(r.GetValue(Clip)!, "--clip");
        AestheticSettings settings = AestheticArguments.Settings(r.GetValue(Embedding)!, "--embedding", r.GetValue(Steps), r.GetValue(LearningRate));
        string output = AestheticArguments.Output(r.GetValue(Output)!, "--out", allowPt: false);
        string prompt = r.GetValue(Prompt)!;
        int[] ids = ClipTokenizer.Load(clipFolder).EncodePadded(prompt);
        DType dtype = OptionKinds.ToDType(r.GetValue(Precision)!);

        using IBackend backend = Devices.Create(r);
        using AestheticPersonalizer personalizer = AestheticPersonalizer.Load(clipFolder, backend, dtype);
        var view = new GenerationProgressView();
        using AestheticResult result = view.Show(() => personalizer.Personalize(ids, settings,
            step => view.Report(new GenerationProgress("aesthetic", step, settings.Steps)), cancellationToken));
        for (int i = 0; i < result.Losses.Length; i++)
        {
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? "before" : $"step {i}"),-8} loss {result.Losses[i]:F7}"));
        }

        using Tensor state = backend.Cast(result.LastHiddenState, DType.F32);
        SafeTensorsWriter.Write(output,
        [
            new TensorData("losses", DType.F32, new Shape(result.Losses.Length), HostTensors.EncodeFloats(result.Losses, DType.F32)),
            new TensorData("last_hidden_state", DType.F32, state.Shape, state.ToBytes()),
            new TensorData("input_ids", DType.I64, new Shape(1, ids.Length), ids.SelectMany(id => BitConverter.GetBytes((long)id)).ToArray()),
        ], new Dictionary<string, string>
        {
            ["prompt"] = prompt, ["steps"] = settings.Steps.ToString(CultureInfo.InvariantCulture), ["lr"] = settings.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            ["embedding"] = settings.Source, ["clip"] = clipFolder, ["dtype"] = OptionKinds.Name(dtype), ["engine"] = GenerationRecord.Engine,
        });
        CliOutput.Line($"wrote {output}");
        return ExitCodes.Ok;
    }
}

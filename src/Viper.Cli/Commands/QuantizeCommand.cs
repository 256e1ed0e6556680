using System.CommandLine;
using Viper.Backends.Cpu;
using Viper.Cli.Terminal;
using Viper.Models.Clip;
using Viper.Models.Idefics2;
using Viper.Models.Loading;
using Viper.Models.Unet;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper quantize MODEL --format F --out FOLDER`: loads an IDEFICS2 folder, or a diffusers pipeline folder's UNet and text
/// encoders, with the linear weights in a weight format (on the CPU), and writes a copy of the folder whose checkpoints
/// hold them as stored (int8/FP8 with <c>weight_scale</c>, Q8_0/Q4_0 as U8 blocks named in the metadata), so it loads
/// back with no quantizing. Other parameters are written in --dtype; every other file is copied as it is.
/// </summary>
internal static class QuantizeCommand
{
    private static readonly Argument<DirectoryInfo> Model = new("model") { Description = "An IDEFICS2 model folder or a diffusers pipeline folder (model_index.json)" };
    private static readonly Option<string?> Format = OptionKinds.LinearWeights("written");
    private static readonly Option<DirectoryInfo> Out = new("--out") { Description = "The folder to write (must not exist yet)", Required = true, HelpName = "folder" };
    private static readonly Option<string> Precision = OptionKinds.Precision("Dtype of the parameters that are not linear weights (norms, embeddings, convolutions)");

    public static Command Create()
    {
        Format.Aliases.Add("--format");
        Format.Required = true;
        var command = new Command("quantize", "Write a copy of a model folder with its linear weights in a weight format, loadable without re-quantizing. " + ExitCodes.Help)
        {
            Model, Format, Out, Precision,
        };
        command.SetAction((r, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(r, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        DirectoryInfo folder = r.GetValue(Model)!;
        string source = File.Exists(Path.Combine(folder.FullName, "model_index.json")) ? folder.FullName : ModelFolders.Model(folder, "model");
        string output = r.GetValue(Out)!.FullName;
        if (Directory.Exists(output) || File.Exists(output))
        {
            throw new UsageException($"--out {output}: already exists (quantize writes a new folder)");
        }

        DType format = OptionKinds.ToWeightFormat(r.GetValue(Format))!.Value;
        DType dtype = OptionKinds.ToDType(r.GetValue(Precision)!);
        using var backend = new CpuBackend();
        CopyTree(source, output);
        bool pipeline = File.Exists(Path.Combine(source, "model_index.json"));
        string[] components = pipeline ? ["unet", "text_encoder", "text_encoder_2"] : ["."];
        foreach (string component in components.Where(c => Directory.Exists(Path.Combine(source, c))))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Console.Error.WriteLine($"quantizing {Path.GetFullPath(Path.Combine(source, component))} to {format.Label()} …");
            Quantize(Path.Combine(source, component), Path.Combine(output, component), backend, dtype, format, cancellationToken);
        }

        CliOutput.Line($"wrote {output}");
        return ExitCodes.Ok;
    }

    /// <summary>Loads one component with quantized linear weights and writes its checkpoint (replacing the copied one) in the same base name.</summary>
    private static void Quantize(string folder, string target, IBackend backend, DType dtype, DType format, CancellationToken cancellationToken)
    {
        string config = File.ReadAllText(Path.Combine(folder, "config.json"));
        string baseName = File.Exists(Path.Combine(folder, "diffusion_pytorch_model.safetensors")) ? "diffusion_pytorch_model" : "model";
        using WeightStore store = CheckpointFiles.Open(folder, baseName);
        var weights = new CheckpointWeights(store, backend, dtype, cancellationToken: cancellationToken, linearWeights: format);
        using IDisposable model = config.Contains("Idefics2ForConditionalGeneration", StringComparison.Ordinal)
            ? new Idefics2ForConditionalGeneration(weights.Root, Idefics2Config.Load(Path.Combine(folder, "config.json")))
            : config.Contains("UNet2DConditionModel", StringComparison.Ordinal)
                ? new UNet2DConditionModel(weights.Root, UNet2DConditionConfig.Load(Path.Combine(folder, "config.json")))
                : new ClipTextModel(weights.Root, ClipTextConfig.Load(Path.Combine(folder, "config.json")), store.Contains("text_projection.weight"));
        var extra = store.Unused().Select(n => new TensorData(n, store.Entry(n).DType, store.Entry(n).Shape, store.Bytes(n).ToArray())).ToList();
        foreach (string file in Directory.EnumerateFiles(target, baseName + ".safetensors*"))
        {
            File.Delete(file); // the copied original (or its shards and index)
        }

        CheckpointWriter.Write(weights.Parameters, Path.Combine(target, baseName + ".safetensors"), extra,
            new Dictionary<string, string> { ["format"] = "pt", ["viper.linear_weights"] = format.Label() });
    }

    private static void CopyTree(string source, string target)
    {
        foreach (string dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories).Prepend(source))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }

        foreach (string file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }
    }
}

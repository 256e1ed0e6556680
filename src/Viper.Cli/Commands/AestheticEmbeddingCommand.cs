using System.CommandLine;
using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Models.Clip;
using Viper.Pipelines;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper aesthetic-embedding`: the mean CLIP image embedding of images a user likes, as the aesthetic-gradients repo's
/// scripts/gen_aesthetic_embeddings.py makes it, written as safetensors or as a torch.save file its scripts load.
/// </summary>
internal static class AestheticEmbeddingCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"];

    private static readonly Option<DirectoryInfo> Clip = new("--clip") { Description = "The CLIP model folder (openai/clip-vit-large-patch14 for SD1.x)", Required = true, HelpName = "folder" };
    private static readonly Option<string[]> Images = new("--images")
    {
        Description = "Images the user likes: files, or folders whose images (PNG, JPEG, BMP, GIF, TGA) are all taken (repeat)", Required = true, HelpName = "path",
        AllowMultipleArgumentsPerToken = true,
    };
    private static readonly Option<FileInfo> Output = new("--out") { Description = "The embedding file: .safetensors, or .pt as torch.save writes it", Required = true, HelpName = "file" };
    private static readonly Option<string> Backend = new("--backend") { Description = "Where to run: cpu, cuda (the GPU) or cuda-emulated", DefaultValueFactory = _ => "cpu", HelpName = "backend" };
    private static readonly Option<int?> Threads = OptionKinds.OptionalInt("--threads", "CPU backend threads (default: all cores)", 1, 1024);
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the vision tower");

    public static Command Create()
    {
        OptionKinds.OneOf(Backend, "a backend", BackendChoice.Names);
        var command = new Command("aesthetic-embedding",
            "Average the CLIP image embeddings of images a user likes into an aesthetic embedding (aesthetic gradients). " + ExitCodes.Help)
        {
            Clip, Images, Output, Backend, Threads, Precision,
        };
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        string clipFolder = AestheticArguments.ClipFolder(r.GetValue(Clip)!, "--clip");
        string output = AestheticArguments.Output(r.GetValue(Output)!, "--out", allowPt: true);
        List<string> paths = ImagePaths(r.GetValue(Images)!);
        RgbImage[] images = [.. paths.Select(p => ImageArguments.Read(new FileInfo(p), "--images"))]; // every image decodes before the model loads
        ClipImageProcessor processor = Processor(clipFolder);

        using IBackend backend = BackendChoice.Create(r.GetValue(Backend)!, r.GetValue(Threads));
        using ClipVisionModel clip = ClipVisionModel.Load(clipFolder, backend, OptionKinds.ToDType(r.GetValue(Precision)!));
        if (processor.CropSize != clip.Config.ImageSize)
        {
            throw new InvalidDataException($"--clip {clipFolder}: preprocessor_config.json crops to {processor.CropSize} pixels, the vision tower takes {clip.Config.ImageSize}");
        }

        var view = new GenerationProgressView();
        (float[] mean, _) = view.Show(() => AestheticEmbedding.Compute(clip, processor, images,
            i => view.Report(new GenerationProgress("images", i, images.Length)), cancellationToken));
        AestheticEmbedding.Write(output, mean);
        CliOutput.Line($"wrote {output}: the mean of {images.Length} image embedding(s), {mean.Length} values");
        return ExitCodes.Ok;
    }

    /// <summary>Files as given; folders expanded to their image files in name order. Nothing found is a usage error.</summary>
    private static List<string> ImagePaths(string[] given)
    {
        var paths = new List<string>();
        foreach (string path in given)
        {
            if (Directory.Exists(path))
            {
                string[] found = [.. Directory.EnumerateFiles(path).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal)];
                paths.AddRange(found.Length > 0 ? found : throw new UsageException($"--images {path}: the folder holds no image ({string.Join(", ", ImageExtensions)})"));
            }
            else
            {
                paths.Add(File.Exists(path) ? path : throw new UsageException($"--images {path}: no such file or folder"));
            }
        }

        return paths;
    }

    /// <summary>The folder's preprocessor_config.json (CLIPImageProcessor), or CLIP's defaults when it has none.</summary>
    private static ClipImageProcessor Processor(string clipFolder)
    {
        string path = Path.Combine(clipFolder, "preprocessor_config.json");
        return File.Exists(path) ? ClipImageProcessor.Load(path) : new ClipImageProcessor();
    }
}


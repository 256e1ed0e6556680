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
/// scripts/gen_aesthetic_embeddings.py makes it, written as safetensors or as a torch.save file its scripts load. With
/// --clip-g (SDXL) the OpenCLIP bigG tower's mean is computed too and both go into one .safetensors (clip_l, clip_g).
/// </summary>
internal static class AestheticEmbeddingCommand
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga"];

    private static readonly Option<DirectoryInfo> Clip = new("--clip") { Description = "The CLIP model folder (openai/clip-vit-large-patch14 for SD1.x and SDXL's text_encoder)", Required = true, HelpName = "folder" };
    private static readonly Option<DirectoryInfo?> ClipG = new("--clip-g")
    {
        Description = "SDXL: the OpenCLIP ViT-bigG/14 CLIP folder (laion/CLIP-ViT-bigG-14-laion2B-39B-b160k) for text_encoder_2's embedding; the file then holds clip_l and clip_g",
        HelpName = "folder",
    };
    private static readonly Option<string[]> Images = new("--images")
    {
        Description = "Images the user likes: files, or folders whose images (PNG, JPEG, BMP, GIF, TGA) are all taken (repeat)", Required = true, HelpName = "path",
        AllowMultipleArgumentsPerToken = true,
    };
    private static readonly Option<FileInfo> Output = new("--out") { Description = "The embedding file: .safetensors, or .pt as torch.save writes it", Required = true, HelpName = "file" };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the vision tower");

    public static Command Create()
    {
        var command = new Command("aesthetic-embedding",
            "Average the CLIP image embeddings of images a user likes into an aesthetic embedding (aesthetic gradients). " + ExitCodes.Help)
        {
            Clip, ClipG, Images, Output, Precision,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        string clipFolder = AestheticArguments.ClipFolder(r.GetValue(Clip)!, "--clip");
        string? clipGFolder = r.GetValue(ClipG) is { } g ? AestheticArguments.ClipFolder(g, "--clip-g") : null;
        string output = AestheticArguments.Output(r.GetValue(Output)!, "--out", allowPt: clipGFolder is null);
        List<string> paths = ImagePaths(r.GetValue(Images)!);
        RgbImage[] images = [.. paths.Select(p => ImageArguments.Read(new FileInfo(p), "--images"))]; // every image decodes before the model loads

        using IBackend backend = Devices.Create(r);
        DType dtype = OptionKinds.ToDType(r.GetValue(Precision)!);
        var view = new GenerationProgressView();
        float[] mean = Mean(clipFolder, "--clip", "images", images, backend, dtype, view, cancellationToken);
        if (clipGFolder is null)
        {
            AestheticEmbedding.Write(output, mean);
            CliOutput.Line($"wrote {output}: the mean of {images.Length} image embedding(s), {mean.Length} values");
            return ExitCodes.Ok;
        }

        float[] meanG = Mean(clipGFolder, "--clip-g", "images (bigG)", images, backend, dtype, view, cancellationToken);
        AestheticEmbedding.WritePair(output, mean, meanG);
        CliOutput.Line($"wrote {output}: clip_l ({mean.Length} values) and clip_g ({meanG.Length} values), the means of {images.Length} image embedding(s)");
        return ExitCodes.Ok;
    }

    /// <summary>One tower's mean image embedding; the tower is released before the next loads.</summary>
    private static float[] Mean(string folder, string option, string stage, RgbImage[] images, IBackend backend, DType dtype, GenerationProgressView view,
        CancellationToken cancellationToken)
    {
        ClipImageProcessor processor = Processor(folder);
        using ClipVisionModel clip = ClipVisionModel.Load(folder, backend, dtype);
        if (processor.CropSize != clip.Config.ImageSize)
        {
            throw new InvalidDataException($"{option} {folder}: preprocessor_config.json crops to {processor.CropSize} pixels, the vision tower takes {clip.Config.ImageSize}");
        }

        return view.Show(() => AestheticEmbedding.Compute(clip, processor, images, i => view.Report(new GenerationProgress(stage, i, images.Length)), cancellationToken)).Mean;
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


using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Pipelines.Preferences;

namespace Viper.Cli.Commands;

/// <summary>
/// The preference extractor's arguments (`viper preferences`, `viper generate --comments`), checked before anything
/// loads: the comments file and every image it names, the extractor folder and its adapter.
/// </summary>
internal sealed record ExtractorInputs(IReadOnlyList<CommentedImage> Comments, IReadOnlyList<RgbImage> Images, string CommentsPath, string Extractor, string Adapter)
{
    public static ExtractorInputs Read(FileInfo comments, DirectoryInfo? extractor, DirectoryInfo? adapter)
    {
        if (extractor is null || adapter is null)
        {
            throw new UsageException("--comments needs --extractor (the IDEFICS2 folder) and --adapter (the VPE-ViPer adapter folder)");
        }

        string model = ModelFolders.Model(extractor, "--extractor"), adapterFolder = ModelFolders.Adapter(adapter, "--adapter")!;

        IReadOnlyList<CommentedImage> items = CommentedImage.Load(comments.FullName);
        RgbImage[] images = [.. items.Select(i => ImageFile.Load(i.ImagePath))]; // a broken image is found now, not after the model loads

        if (items.Count < CommentedImage.Recommended)
        {
            CliOutput.Warning($"{items.Count} commented image(s): the extractor works best with about {CommentedImage.Recommended} (the ViPer paper's finding)");
        }

        return new ExtractorInputs(items, images, comments.FullName, model, adapterFolder);
    }
}

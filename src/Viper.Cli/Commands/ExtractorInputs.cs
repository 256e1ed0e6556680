using Viper.Cli.Terminal;
using Viper.Pipelines.Preferences;

namespace Viper.Cli.Commands;

/// <summary>
/// The preference extractor's arguments (`viper preferences`, `viper generate --comments`), checked before anything
/// loads: the comments file and every image it names, the extractor folder and its adapter.
/// </summary>
internal sealed record ExtractorInputs(IReadOnlyList<CommentedImage> Comments, string CommentsPath, string Extractor, string Adapter)
{
    public static ExtractorInputs Read(FileInfo comments, DirectoryInfo? extractor, DirectoryInfo? adapter)
    {
        if (extractor is null || adapter is null)
        {
            throw new UsageException("--comments needs --extractor (the IDEFICS2 folder) and --adapter (the VPE-ViPer adapter folder)");
        }

        if (!File.Exists(Path.Combine(extractor.FullName, "config.json")))
        {
            throw new UsageException($"--extractor {extractor.FullName}: no config.json there (an IDEFICS2 folder as downloaded from Hugging Face)");
        }

        if (!File.Exists(Path.Combine(adapter.FullName, "adapter_config.json")))
        {
            throw new UsageException($"--adapter {adapter.FullName}: no adapter_config.json there (a PEFT adapter folder as saved by save_pretrained)");
        }

        IReadOnlyList<CommentedImage> items = CommentedImage.Load(comments.FullName);
        foreach (CommentedImage item in items)
        {
            _ = Viper.Imaging.ImageFile.Load(item.ImagePath); // a broken image is found now, not after the model loads
        }

        if (items.Count < CommentedImage.Recommended)
        {
            CliOutput.Warning($"{items.Count} commented image(s): the extractor works best with about {CommentedImage.Recommended} (the ViPer paper's finding)");
        }

        return new ExtractorInputs(items, comments.FullName, extractor.FullName, adapter.FullName);
    }
}

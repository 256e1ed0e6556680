using Viper.Cli.Terminal;

namespace Viper.Cli.Commands;

/// <summary>The IDEFICS2, adapter and pipeline folders a command line names, checked for their config file before anything loads.</summary>
internal static class ModelFolders
{
    /// <summary>A diffusers pipeline folder (its model_index.json present).</summary>
    public static string Pipeline(DirectoryInfo folder, string option) =>
        File.Exists(Path.Combine(folder.FullName, "model_index.json")) ? folder.FullName
            : throw new UsageException($"{option} {folder.FullName}: no model_index.json there (a diffusers pipeline folder)");

    public static string Model(DirectoryInfo folder, string option) =>
        File.Exists(Path.Combine(folder.FullName, "config.json")) ? folder.FullName
            : throw new UsageException($"{option} {folder.FullName}: no config.json there (an IDEFICS2 folder as downloaded from Hugging Face)");

    public static string? Adapter(DirectoryInfo? folder, string option) =>
        folder is null || File.Exists(Path.Combine(folder.FullName, "adapter_config.json")) ? folder?.FullName
            : throw new UsageException($"{option} {folder.FullName}: no adapter_config.json there (a PEFT adapter folder as saved by save_pretrained)");
}

using System.CommandLine;
using Viper.Cli.Terminal;
using Viper.Pipelines.Aesthetic;
using Viper.Weights.Torch;

namespace Viper.Cli.Commands;

/// <summary>
/// The aesthetic-gradients options `viper generate` and `viper aesthetic-personalize` share, and the checks of what they
/// name (the CLIP folder, the embedding file) before any model loads; errors name the option as typed.
/// </summary>
internal static class AestheticArguments
{
    public static Option<int> Steps(string name) => OptionKinds.Int(name, "Adam steps T on the CLIP text encoder (the released default 10; the paper suggests 2–20)", 10, 0, 1000);

    public static Option<double> LearningRate(string name) => OptionKinds.PositiveDouble(name, "Adam's learning rate (the released default 1e-4)", 1e-4, 1);

    /// <summary>A CLIP model folder: config.json and its weights (openai/clip-vit-large-patch14 as downloaded).</summary>
    public static string ClipFolder(DirectoryInfo folder, string option) =>
        File.Exists(Path.Combine(folder.FullName, "config.json")) ? folder.FullName
            : throw new UsageException($"{option} {folder.FullName}: no config.json there (a CLIP model folder such as openai/clip-vit-large-patch14)");

    /// <summary>The embedding file read and checked (one embedding, or SDXL's clip_l/clip_g pair); T and lr as given.</summary>
    public static AestheticSettings Settings(FileInfo embedding, string option, int steps, double learningRate)
    {
        if (!embedding.Exists)
        {
            throw new UsageException($"{option} {embedding.FullName}: the file does not exist");
        }

        try
        {
            (float[]? clipL, float[]? clipG) = AestheticEmbedding.ReadPair(embedding.FullName);
            return new AestheticSettings(clipL ?? throw new InvalidDataException("it holds clip_g only; the CLIP ViT-L/14 embedding (clip_l) is needed too"), steps, learningRate)
            {
                Source = embedding.FullName, EmbeddingG = clipG,
            };
        }
        catch (Exception e) when (e is TorchSaveFormatException or Viper.Weights.SafeTensorsFormatException or InvalidDataException)
        {
            throw new InvalidDataException($"{option} {embedding.Name}: {e.Message}", e);
        }
    }

    /// <summary>An output file for an embedding or a personalization: .pt or .safetensors, in a folder that exists.</summary>
    public static string Output(FileInfo output, string option, bool allowPt)
    {
        string extension = output.Extension.ToLowerInvariant();
        if (extension != ".safetensors" && !(allowPt && extension == ".pt"))
        {
            throw new UsageException($"{option} {output.Name}: write {(allowPt ? ".safetensors or .pt (torch.save)" : ".safetensors")}");
        }

        if (output.Directory is { Exists: false } dir)
        {
            throw new UsageException($"{option} {output.FullName}: the folder {dir.FullName} does not exist");
        }

        return output.FullName;
    }
}

using Viper.Imaging;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>Writes `viper generate`'s images with their <see cref="GenerationRecord"/> (image i of a batch as NAME-i.ext).</summary>
internal static class ImageParameters
{
    public static IReadOnlyList<string> Save(GenerationRequest q, GenerationResult images, GenerationSetup setup, FileInfo output)
    {
        IReadOnlyDictionary<string, string> text = GenerationRecord.PngText(q, images, setup);
        var paths = new List<string>();
        for (int i = 0; i < images.Images.Count; i++)
        {
            string path = images.Images.Count == 1
                ? output.FullName
                : Path.Combine(output.DirectoryName ?? ".", $"{Path.GetFileNameWithoutExtension(output.Name)}-{i}{output.Extension}");
            PngWriter.Write(path, images.Images[i], text);
            paths.Add(path);
        }

        return paths;
    }
}

using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>`--preview-every N`: the step's cheap latent preview as NAME-preview-STAGE-STEP[-i].png beside the output.</summary>
internal sealed class PreviewWriter(FileInfo output, int every)
{
    public void Save(StepState state)
    {
        if (state.Step % every != 0 && state.Step != state.TotalSteps)
        {
            return;
        }

        IReadOnlyList<RgbImage>? images = state.Preview();
        if (images is null)
        {
            return;
        }

        string stem = Path.Combine(output.DirectoryName ?? ".", $"{Path.GetFileNameWithoutExtension(output.Name)}-preview-{state.Stage}-{state.Step:D3}");
        for (int i = 0; i < images.Count; i++)
        {
            string path = images.Count == 1 ? $"{stem}.png" : $"{stem}-{i}.png";
            PngWriter.Write(path, images[i], new Dictionary<string, string> { ["Software"] = GenerationRecord.Engine });
            if (!CliOutput.Interactive)
            {
                CliOutput.Line($"preview {path}");
            }
        }
    }
}

using Viper.Engine.Tests.Support;
using Viper.Weights;

namespace Viper.Engine.Tests.Cli;

/// <summary>`viper quantize` on a diffusers pipeline, and `generate --weights`, through the CLI process.</summary>
public sealed class QuantizeCliTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    /// <summary>
    /// The quantized pipeline's UNet and text encoder hold Q8_0 blocks named in their metadata (the VAE is untouched), it
    /// generates the image that quantizing at load gives (the same bytes, so the same pixels), and the PNG records the format.
    /// </summary>
    [Fact]
    public void AQuantizedPipelineGeneratesWhatQuantizingAtLoadGenerates()
    {
        using var work = new TempFolder();
        string quantized = Path.Combine(work.Path, "tiny-sd-q8_0");
        CliResult q = CliRunner.Run(work.Path, "quantize", folders.Sd, "--format", "q8_0", "--out", quantized);
        Assert.True(q.ExitCode == 0, q.Stderr);
        foreach (string component in new[] { "unet", "text_encoder" })
        {
            string file = Directory.EnumerateFiles(Path.Combine(quantized, component), "*.safetensors").Single();
            using WeightStore store = WeightStore.Open(file);
            Assert.Contains(store.Names, n => QuantizedCheckpoint.StoredFormat(store, n) == Viper.Runtime.DType.Q8_0);
        }

        Assert.Equal(File.ReadAllBytes(Directory.EnumerateFiles(Path.Combine(folders.Sd, "vae"), "*.safetensors").Single()),
            File.ReadAllBytes(Directory.EnumerateFiles(Path.Combine(quantized, "vae"), "*.safetensors").Single()));

        string[] common = ["--prompt", "a lighthouse", "--likes", "watercolor", "--steps", "3", "--seed", "5"];
        CliResult stored = CliRunner.Run(work.Path, ["generate", "--model", quantized, .. common, "--out", "stored.png"]);
        CliResult atLoad = CliRunner.Run(work.Path, ["generate", "--model", folders.Sd, "--weights", "q8_0", .. common, "--out", "at-load.png"]);
        Assert.True(stored.ExitCode == 0, stored.Stderr);
        Assert.True(atLoad.ExitCode == 0, atLoad.Stderr);
        Viper.Imaging.RgbImage a = Viper.Imaging.ImageFile.Load(Path.Combine(work.Path, "stored.png")), b = Viper.Imaging.ImageFile.Load(Path.Combine(work.Path, "at-load.png"));
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Contains("weights: q8_0", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(Path.Combine(work.Path, "at-load.png"))));
    }
}

using Viper.Engine.Tests.Support;
using Viper.Imaging;

namespace Viper.Engine.Tests.Cli;

/// <summary>
/// `--device` and `--place` from the command line, on two emulated devices (VIPER_EMU_DEVICES=2): the placed run gives the
/// one-device image, its record names where each component ran, and bad placements are refused before anything loads.
/// </summary>
public sealed class PlacementCliTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static readonly Dictionary<string, string> TwoEmulatedDevices = new() { [Viper.Cuda.Emulation.EmulatedDevices.Variable] = "2" };

    [Fact]
    public void APlacedGenerationEqualsTheOneDeviceImageAndRecordsItsDevices()
    {
        using var work = new TempFolder();
        string[] common = ["generate", "--model", folders.Sdxl, "--refiner", folders.Refiner, "--prompt", "a lighthouse", "--likes", "watercolor",
            "--dislikes", "neon", "--steps", "3", "--seed", "5", "--backend", "cuda-emulated"];
        CliResult alone = CliRunner.Run(work.Path, TwoEmulatedDevices, [.. common, "--device", "1", "--out", "alone.png"]);
        Assert.True(alone.ExitCode == 0, alone.ToString());
        CliResult placed = CliRunner.Run(work.Path, TwoEmulatedDevices, [.. common, "--place", "text=cuda-emulated:1,vae=cuda-emulated:1, refiner=cuda-emulated:1", "--out", "placed.png"]);
        Assert.True(placed.ExitCode == 0, placed.ToString());
        Assert.Equal(ImageFile.Decode(File.ReadAllBytes(Path.Combine(work.Path, "alone.png"))).Pixels,
            ImageFile.Decode(File.ReadAllBytes(Path.Combine(work.Path, "placed.png"))).Pixels);
        Assert.Contains("backend: cuda-emulated:1,", GenerateCliTests.PngText(Path.Combine(work.Path, "alone.png")), StringComparison.Ordinal);
        Assert.Contains("backend: cuda-emulated:0; refiner=cuda-emulated:1, text=cuda-emulated:1, vae=cuda-emulated:1,",
            GenerateCliTests.PngText(Path.Combine(work.Path, "placed.png")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "--place: 'decoder' is not a component here (text, unet, refiner, vae)", "--place", "decoder=cpu")]
    [InlineData(1, "--place unet: 'gpu:1' is not a device (cpu, cuda:N or cuda-emulated:N)", "--place", "unet=gpu:1")]
    [InlineData(1, "--place: unet is placed twice", "--place", "unet=cpu,unet=cpu")]
    [InlineData(1, "--device 1 names a GPU; --backend cpu has none", "--device", "1")]
    [InlineData(1, "--device: 64 is outside 0..63", "--device", "64", "--backend", "cuda")]
    [InlineData(2, "emulated device 2 requested, 2 present (set VIPER_EMU_DEVICES for more)", "--backend", "cuda-emulated", "--device", "2")]
    public void BadDevicesAreRefusedBeforeAnythingLoads(int exitCode, string message, params string[] extra)
    {
        using var work = new TempFolder();
        CliResult r = CliRunner.Run(work.Path, TwoEmulatedDevices, ["generate", "--model", folders.Sd, "--prompt", "x", "--steps", "1", "--out", "x.png", .. extra]);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(work.Path, "x.png")));
    }
}

using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Models.Checkpoints;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>weights-manifest/*.json stay what the model code reads: each file is regenerated from its preset and compared.</summary>
public class CommittedManifestTests
{
    private static string Folder => Path.Combine(RepoPaths.Root, "weights-manifest");

    private static IEnumerable<string> CommittedNames =>
        Directory.GetFiles(Folder, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal);

    public static IEnumerable<object[]> Committed() => CommittedNames.Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Committed))]
    public void CommittedManifestIsWhatTheModelCodeReads(string name)
    {
        using var cpu = new CpuBackend(1);
        WeightsManifest expected = ComponentManifests.Of(name, cpu);
        WeightsManifest committed = WeightsManifest.Load(Path.Combine(Folder, name + ".json"));
        Assert.Equal(expected.Checkpoint, committed.Checkpoint);
        Assert.Equal(expected.Files, committed.Files);
        Assert.Equal(expected.Tensors.Keys.Order(StringComparer.Ordinal), committed.Tensors.Keys.Order(StringComparer.Ordinal));
        Assert.All(expected.Tensors, kv =>
        {
            Assert.Equal(kv.Value.Shape, committed.Tensors[kv.Key].Shape);
            Assert.Equal(kv.Value.DType, committed.Tensors[kv.Key].DType);
        });
    }

    [Fact]
    public void EveryRealComponentHasACommittedManifest()
    {
        string[] real = ComponentManifests.Names.Where(n => !n.StartsWith("tiny-", StringComparison.Ordinal)).ToArray();
        Assert.Equal(real.Order(StringComparer.Ordinal), CommittedNames);
    }

    /// <summary>Parameter counts everyone quotes for these networks (diffusers' num_parameters) — a check independent of our presets.</summary>
    [Theory]
    [InlineData("sd15-unet", 859_520_964L)]
    [InlineData("sd21-unet", 865_910_724L)]
    [InlineData("sdxl-unet", 2_567_463_684L)]
    [InlineData("sd15-vae", 83_653_863L)]
    [InlineData("sdxl-vae", 83_653_863L)]
    public void ParameterCountsMatchThePublishedModels(string name, long parameters)
    {
        WeightsManifest committed = WeightsManifest.Load(Path.Combine(Folder, name + ".json"));
        Assert.Equal(parameters, committed.Tensors.Values.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d)));
    }
}

using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// make-tiny's folders are what diffusers 0.29.2 itself writes: each config holds only keys that diffusers' own files for
/// that class hold (../shared/refs, written by diffusers), so diffusers reads them without "unexpected config attribute"
/// warnings; model_index.json has the usual null components and SDXL's force_zeros_for_empty_prompt.
/// </summary>
public sealed class TinyPipelineConfigTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    [Fact]
    public void ComponentConfigsHoldOnlyKeysDiffusersWrites()
    {
        foreach (string folder in new[] { folders.Sd, folders.Sdxl, folders.Refiner, folders.SdxlFp16 })
        {
            AssertKeysWithin(Path.Combine(folder, "unet", "config.json"), RepoPaths.Shared("refs", "sd15", "unet", "config.json"));
            AssertKeysWithin(Path.Combine(folder, "vae", "config.json"), RepoPaths.Shared("refs", "sd15", "vae", "config.json"));
        }

        AssertKeysWithin(Path.Combine(folders.Sd, "scheduler", "scheduler_config.json"), RepoPaths.Shared("refs", "sd15", "scheduler", "scheduler_config.json"));
        AssertKeysWithin(Path.Combine(folders.Sdxl, "scheduler", "scheduler_config.json"), RepoPaths.Shared("refs", "schedulers", "euler", "scheduler_config.json"));
        JsonObject euler = Read(Path.Combine(folders.Sdxl, "scheduler", "scheduler_config.json"));
        Assert.DoesNotContain("set_alpha_to_one", euler.Select(p => p.Key)); // a DDIM key the Euler class does not take
        Assert.DoesNotContain("algorithm_type", euler.Select(p => p.Key));
        Assert.Equal("0.29.2", (string?)euler["_diffusers_version"]);
    }

    [Fact]
    public void ModelIndexHasTheUsualEntriesAndSdxlsZeroFlag()
    {
        JsonObject sd = Read(Path.Combine(folders.Sd, "model_index.json"));
        JsonObject reference = Read(RepoPaths.Shared("refs", "sd15", "model_index.json"));
        Assert.Equal(reference.Select(p => p.Key).Order(StringComparer.Ordinal), sd.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("[null,null]", sd["safety_checker"]!.ToJsonString());
        Assert.True((bool)Read(Path.Combine(folders.Sdxl, "model_index.json"))["force_zeros_for_empty_prompt"]!);
        JsonObject refiner = Read(Path.Combine(folders.Refiner, "model_index.json"));
        Assert.False((bool)refiner["force_zeros_for_empty_prompt"]!);
        Assert.True((bool)refiner["requires_aesthetics_score"]!);
    }

    [Fact]
    public void Fp16VariantFoldersHoldOnlyHalfPrecisionVariantFiles()
    {
        foreach (string component in new[] { "text_encoder", "text_encoder_2", "unet", "vae" })
        {
            string dir = Path.Combine(folders.SdxlFp16, component);
            string file = Assert.Single(Directory.GetFiles(dir, "*.safetensors"));
            Assert.EndsWith(".fp16.safetensors", file, StringComparison.Ordinal);
            using var store = Viper.Weights.WeightStore.Open(file);
            Assert.All(store.Entries, e => Assert.Equal(Viper.Runtime.DType.F16, e.DType));
        }
    }

    private static void AssertKeysWithin(string written, string diffusers)
    {
        var allowed = Read(diffusers).Select(p => p.Key).ToHashSet();
        var extra = Read(written).Select(p => p.Key).Where(k => !allowed.Contains(k)).ToList();
        Assert.True(extra.Count == 0, $"{written}: keys diffusers does not write for this class: {string.Join(", ", extra)}");
    }

    private static JsonObject Read(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();
}

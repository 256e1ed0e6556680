using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using Viper.Models.Checkpoints;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Schedulers;
using Viper.Weights;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>weights-manifest/pipelines/*.json: the published pipelines' folder contents, and the folder check that reads them.</summary>
public class PipelineManifestTests
{
    private static string Folder => Path.Combine(RepoPaths.Root, "weights-manifest", "pipelines");

    [Theory]
    [InlineData("sd15", "PNDMScheduler")]
    [InlineData("sd21", "DDIMScheduler")]
    [InlineData("sdxl-base", "EulerDiscreteScheduler")]
    [InlineData("sdxl-refiner", "EulerDiscreteScheduler")]
    public void CommittedPipelineManifestNamesExistingWeightsAndASchedulerTheEngineRuns(string name, string scheduler)
    {
        string path = Path.Combine(Folder, name + ".json");
        Assert.True(PipelineManifest.IsPipelineManifest(path));
        PipelineManifest manifest = PipelineManifest.Load(path);
        Assert.Contains("unet", manifest.Components.Keys);
        foreach (string component in manifest.Components.Where(c => c.Value.Weights is not null).Select(c => c.Key))
        {
            Assert.EndsWith("/" + component, manifest.WeightsOf(component).Checkpoint);
            Assert.StartsWith(manifest.Checkpoint + "/", manifest.WeightsOf(component).Checkpoint);
        }

        using var dir = new TempFolder();
        string config = Path.Combine(dir.Path, "scheduler_config.json");
        File.WriteAllText(config, manifest.Components["scheduler"].Values!["scheduler_config.json"].ToJsonString());
        SchedulerConfig loaded = SchedulerConfig.Load(config);
        Assert.Equal(scheduler, loaded.ClassName);
        Assert.Equal(name == "sd21" ? "v_prediction" : "epsilon", loaded.PredictionType);
    }

    [Fact]
    public void ATinyPipelineMatchesItsManifestAndEveryDifferenceIsNamed()
    {
        using var dir = new TempFolder();
        using IBackend cpu = TestBackends.Create("cpu");
        string pipeline = Path.Combine(dir.Path, "tiny");
        TinyPipeline.Write("tiny-sdxl", pipeline, Path.Combine(RepoPaths.Root, "assets", "clip-tokenizer"), cpu);
        PipelineManifest manifest = WriteManifestFor(pipeline, Path.Combine(dir.Path, "manifests"));
        Assert.True(manifest.Check(pipeline).IsValid, manifest.Check(pipeline).ToString());

        File.Delete(Path.Combine(pipeline, "tokenizer_2", "merges.txt"));
        Edit(Path.Combine(pipeline, "scheduler", "scheduler_config.json"), o => o["beta_schedule"] = "linear");
        Edit(Path.Combine(pipeline, "model_index.json"), o => o["_class_name"] = "StableDiffusionPipeline");
        File.Move(Path.Combine(pipeline, "text_encoder", "model.safetensors"), Path.Combine(pipeline, "text_encoder", "other.safetensors"));
        string unetManifest = Path.Combine(dir.Path, "manifests", "tiny-unet.json");
        WeightsManifest unet = WeightsManifest.Load(unetManifest);
        unet.Tensors["conv_in.weight"] = unet.Tensors["conv_in.weight"] with { Shape = [1, 2, 3, 4] };
        File.WriteAllText(unetManifest, unet.ToJson());

        PipelineReport report = manifest.Check(pipeline);
        Assert.False(report.IsValid);
        string text = report.ToString();
        Assert.Contains("tokenizer_2/merges.txt is missing", text);
        Assert.Contains("scheduler/scheduler_config.json: beta_schedule is \"linear\", expected \"scaled_linear\"", text);
        Assert.Contains("_class_name is \"StableDiffusionPipeline\", expected \"StableDiffusionXLPipeline\"", text);
        Assert.Contains("text_encoder:", text);
        Assert.Contains("conv_in.weight", text);
        Assert.Contains("expected [1, 2, 3, 4]", text);
    }

    [Fact]
    public void ARealManifestRejectsATinyFolderComponentByComponent()
    {
        using var dir = new TempFolder();
        using IBackend cpu = TestBackends.Create("cpu");
        TinyPipeline.Write("tiny-sd", dir.Path, Path.Combine(RepoPaths.Root, "assets", "clip-tokenizer"), cpu);
        PipelineReport report = PipelineManifest.Load(Path.Combine(Folder, "sd15.json")).Check(dir.Path);
        Assert.False(report.IsValid);
        Assert.Contains("scheduler/scheduler_config.json: _class_name is \"DDIMScheduler\", expected \"PNDMScheduler\"", report.Problems);
        Assert.Equal(3, report.Weights.Count);
        Assert.All(report.Weights, w => Assert.NotEmpty(w.Misshaped.Concat(w.Missing)));
    }

    // A manifest naming the tiny folder's own files and tensors, with the scheduler and model_index values it was written with.
    private static PipelineManifest WriteManifestFor(string pipeline, string manifests)
    {
        Directory.CreateDirectory(Path.Combine(manifests, "pipelines"));
        var components = new JsonObject();
        foreach ((string component, string weights) in new[] { ("text_encoder", "model"), ("text_encoder_2", "model"), ("unet", "diffusion_pytorch_model"), ("vae", "diffusion_pytorch_model") })
        {
            using WeightStore store = WeightStore.Open(Path.Combine(pipeline, component, weights + ".safetensors"));
            string name = "tiny-" + component.Replace('_', '-');
            File.WriteAllText(Path.Combine(manifests, name + ".json"), WeightsManifest.Describe("tiny/" + component, store).ToJson());
            components[component] = new JsonObject { ["weights"] = name, ["files"] = new JsonArray("config.json") };
        }

        foreach (string tokenizer in new[] { "tokenizer", "tokenizer_2" })
        {
            components[tokenizer] = new JsonObject { ["files"] = new JsonArray("merges.txt", "vocab.json") };
        }

        components["scheduler"] = JsonNode.Parse("""
            {"files": ["scheduler_config.json"], "values": {"scheduler_config.json":
              {"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear", "beta_end": 0.012, "num_train_timesteps": 1000.0}}}
            """);
        string path = Path.Combine(manifests, "pipelines", "tiny.json");
        File.WriteAllText(path, new JsonObject { ["checkpoint"] = "tiny", ["class_name"] = "StableDiffusionXLPipeline", ["components"] = components }.ToJsonString());
        return PipelineManifest.Load(path);
    }

    private static void Edit(string path, Action<JsonObject> edit)
    {
        JsonObject o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(o);
        File.WriteAllText(path, o.ToJsonString());
    }
}

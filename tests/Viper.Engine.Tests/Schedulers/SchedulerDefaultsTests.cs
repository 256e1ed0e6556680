using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using Viper.Schedulers;

namespace Viper.Engine.Tests.Schedulers;

/// <summary>
/// A key a folder's scheduler_config.json does not state takes the default of the class that runs, as diffusers'
/// <c>SomeScheduler.from_config(config)</c> gives it (0.29.2: DDIM and DDPM default to clip_sample true and leading
/// spacing; Euler, Euler ancestral and DPM-Solver to linspace and have no clip_sample), and clip_sample steps follow
/// scheduling_ddim.py / scheduling_ddpm.py: x₀ clamped to ±clip_sample_range, ε kept as the model gave it.
/// </summary>
public class SchedulerDefaultsTests
{
    // SD1.5's PNDM config without clip_sample or timestep_spacing (what a hand-written or older folder may hold).
    private static readonly JsonObject PndmWithoutClipSample = new()
    {
        ["_class_name"] = "PNDMScheduler", ["beta_start"] = 0.00085, ["beta_end"] = 0.012, ["beta_schedule"] = "scaled_linear",
        ["num_train_timesteps"] = 1000, ["set_alpha_to_one"] = false, ["skip_prk_steps"] = true, ["steps_offset"] = 1,
    };

    [Fact]
    public void AbsentKeysTakeTheDefaultsOfTheClassThatRuns()
    {
        using var folder = new TempFolder();
        SchedulerConfig config = Load(folder, PndmWithoutClipSample);
        foreach (string name in new[] { "ddim", "ddpm" })
        {
            Scheduler s = SchedulerKind.Create(config, name);
            Assert.True(s.Config.ClipSample, name);
            Assert.Equal(1.0, s.Config.ClipSampleRange);
            Assert.Equal("leading", s.Config.TimestepSpacing);
        }

        foreach (string name in new[] { "euler", "euler-a", "dpm++2m", "dpm++2m-karras" })
        {
            Scheduler s = SchedulerKind.Create(config, name);
            Assert.False(s.Config.ClipSample, name);
            Assert.Equal("linspace", s.Config.TimestepSpacing);
        }

        // The PNDM fallback (no name) runs Euler on the same schedule, with Euler's defaults.
        Assert.Equal("linspace", SchedulerKind.Create(config).Config.TimestepSpacing);
        Assert.False(SchedulerKind.Create(config, "ddim").Config.SetAlphaToOne); // stated: kept
        Assert.Equal(1, SchedulerKind.Create(config, "ddim").Config.StepsOffset);

        // Stated keys are kept whatever class runs.
        JsonObject stated = (JsonObject)PndmWithoutClipSample.DeepClone();
        stated["clip_sample"] = false;
        stated["timestep_spacing"] = "trailing";
        SchedulerConfig explicitConfig = Load(folder, stated);
        Assert.False(SchedulerKind.Create(explicitConfig, "ddim").Config.ClipSample);
        Assert.Equal("trailing", SchedulerKind.Create(explicitConfig, "ddpm").Config.TimestepSpacing);
        Assert.Equal("trailing", SchedulerKind.Create(explicitConfig, "euler").Config.TimestepSpacing);
        // clip_sample is not a parameter of Euler: a stated true does not reach it.
        stated["clip_sample"] = true;
        Assert.False(SchedulerKind.Create(Load(folder, stated), "euler").Config.ClipSample);
    }

    [Fact]
    public void DdimAndDdpmDefaultSpacingIsLeadingAsInDiffusers()
    {
        using var folder = new TempFolder();
        Scheduler ddim = SchedulerKind.Create(Load(folder, PndmWithoutClipSample), "ddim");
        ddim.SetTimesteps(20);
        // diffusers 0.29.2 DDIMScheduler.from_config(SD1.5 PNDM config).set_timesteps(20): leading spacing plus steps_offset 1.
        Assert.Equal(Enumerable.Range(0, 20).Select(i => 951.0 - (50 * i)), ddim.Timesteps);
    }

    [Fact]
    public void ThresholdingIsRefusedByNameAndClipRangeMustBePositive()
    {
        using var folder = new TempFolder();
        JsonObject thresholding = (JsonObject)PndmWithoutClipSample.DeepClone();
        thresholding["thresholding"] = true;
        var e = Assert.Throws<Viper.Weights.ModelConfigException>(() => Load(folder, thresholding));
        Assert.Contains("thresholding", e.Message, StringComparison.Ordinal);
        JsonObject range = (JsonObject)PndmWithoutClipSample.DeepClone();
        range["clip_sample_range"] = 0;
        e = Assert.Throws<Viper.Weights.ModelConfigException>(() => Load(folder, range));
        Assert.Contains("clip_sample_range", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A 20-step DDIM and DDPM trajectory with clip_sample on the refs' fake model outputs (whose x₀ leaves ±1), against
    /// scheduling_ddim.py / scheduling_ddpm.py step() written out here in f64 (eta 0; fixed_small variance).
    /// </summary>
    [Theory]
    [InlineData("ddim", 1.0)]
    [InlineData("ddim", 0.5)]
    [InlineData("ddpm", 1.0)]
    public void ClipSampleStepsFollowDiffusers(string name, double range)
    {
        string dir = RepoPaths.Shared("refs", "schedulers", name);
        using var inputs = new RefTensors(Path.Combine(dir, "inputs.safetensors"));
        SchedulerConfig config = SchedulerConfig.Load(Path.Combine(dir, "scheduler_config.json")) with { ClipSample = true, ClipSampleRange = range };
        Scheduler scheduler = SchedulerKind.Create(config, name);
        scheduler.SetTimesteps(20);
        float[] x = inputs.Floats("x_start");
        int size = x.Length;
        double[] expected = x.Select(v => (double)v).ToArray();
        float[] modelOutputs = inputs.Floats("model_outputs");
        var noiseSource = new Random(3);
        float[] alphas = scheduler.Schedule.AlphasCumprod;
        int clamped = 0;
        for (int i = 0; i < 20; i++)
        {
            int t = (int)scheduler.Timesteps[i], previous = t - (1000 / 20);
            double alphaBar = alphas[t];
            double alphaBarPrev = previous >= 0 ? alphas[previous] : name == "ddim" && config.SetAlphaToOne ? 1.0 : name == "ddim" ? alphas[0] : 1.0;
            float[] eps = modelOutputs.AsSpan(i * size, size).ToArray();
            StepPlan plan = scheduler.Plan(i);
            float[] noise = plan.Extra == StepExtra.Noise ? Enumerable.Range(0, size).Select(_ => (float)(noiseSource.NextDouble() * 2 - 1)).ToArray() : [];
            (float[] next, _) = HostStep.Apply(plan, x, eps, noise);
            for (int j = 0; j < size; j++)
            {
                double x0 = (expected[j] - (Math.Sqrt(1 - alphaBar) * eps[j])) / Math.Sqrt(alphaBar);
                clamped += Math.Abs(x0) > range ? 1 : 0;
                x0 = Math.Clamp(x0, -range, range);
                if (name == "ddim")
                {
                    expected[j] = (Math.Sqrt(alphaBarPrev) * x0) + (Math.Sqrt(1 - alphaBarPrev) * eps[j]);
                }
                else
                {
                    double alpha = alphaBar / alphaBarPrev, beta = 1 - alpha;
                    double mean = (Math.Sqrt(alphaBarPrev) * beta / (1 - alphaBar) * x0) + (Math.Sqrt(alpha) * (1 - alphaBarPrev) / (1 - alphaBar) * expected[j]);
                    double variance = Math.Max((1 - alphaBarPrev) / (1 - alphaBar) * beta, 1e-20);
                    expected[j] = mean + (t > 0 ? Math.Sqrt(variance) * noise[j] : 0);
                }
            }

            Tolerance.Close(expected.Select(v => (float)v).ToArray(), next, 1e-5f, 1e-4f, $"{name} step {i}");
            x = expected.Select(v => (float)v).ToArray();
        }

        Assert.True(clamped > size, $"only {clamped} predicted x₀ values left ±{range}: the clamp was not exercised");
    }

    private static SchedulerConfig Load(TempFolder folder, JsonObject json)
    {
        string path = Path.Combine(folder.Path, "scheduler_config.json");
        File.WriteAllText(path, json.ToJsonString());
        return SchedulerConfig.Load(path);
    }
}

/// <summary>
/// clip_sample through the pipeline: a tiny-sd folder whose scheduler config lacks the key runs DDIM/DDPM with x₀ clamped
/// (diffusers' default), so its image differs from the same folder with clip_sample false, and the device path (clone,
/// guidance, clamp, guidance) gives the CPU backend's image.
/// </summary>
public sealed class ClipSamplePipelineTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    [Theory]
    [InlineData("ddim")]
    [InlineData("ddpm")]
    public void AFolderWithoutClipSampleClampsAsDiffusersDoes(string scheduler)
    {
        string unstated = folders.Copy(folders.Sd, $"tiny-sd-no-clip-{scheduler}");
        string config = Path.Combine(unstated, "scheduler", "scheduler_config.json");
        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(config))!;
        Assert.False((bool)json["clip_sample"]!); // make-tiny states it, as SD1.5's published config does
        json.Remove("clip_sample");
        File.WriteAllText(config, json.ToJsonString());
        var request = new Viper.Pipelines.GenerationRequest { Prompt = "a lighthouse", Steps = 4, Seed = 3, Width = 64, Height = 64, Scheduler = scheduler };

        byte[][] images = new[] { "cpu", "cuda-emulated" }.Select(name =>
        {
            using Viper.Runtime.IBackend backend = TestBackends.Create(name);
            using var pipeline = Viper.Pipelines.ViperPipeline.Load(unstated, backend);
            return pipeline.Generate(request).Images[0].Pixels;
        }).ToArray();
        using Viper.Runtime.IBackend cpu = TestBackends.Create("cpu");
        using var stated = Viper.Pipelines.ViperPipeline.Load(folders.Sd, cpu);
        byte[] unclipped = stated.Generate(request).Images[0].Pixels;

        Assert.NotEqual(unclipped, images[0]);
        Assert.True(images[0].Zip(images[1], (a, b) => Math.Abs(a - b)).Max() <= 1, "the emulated device's image differs from the CPU's by more than one level");
    }
}

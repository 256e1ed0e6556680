using Viper.Engine.Tests.Support;
using Viper.Schedulers;

namespace Viper.Engine.Tests.Schedulers;

/// <summary>
/// Each scheduler against diffusers 0.29.2 in ../shared/refs/schedulers/NAME (SD1.5 noise schedule): ᾱ, timesteps and
/// sigmas for 20 and 50 steps in every spacing, init_noise_sigma, and a 20-step trajectory on fixed fake model outputs
/// with a seed-1234 torch generator — the scaled model input, x₀ and x_prev at every step, and every noise draw.
/// </summary>
public class SchedulerReferenceTests
{
    public static TheoryData<string> Folders => new() { "ddim", "ddpm", "euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_karras" };

    [Theory]
    [MemberData(nameof(Folders))]
    public void ScheduleMatchesDiffusers(string folder)
    {
        (SchedulerConfig config, RefTensors outputs, _) = Open(folder);
        using (outputs)
        {
            Scheduler scheduler = SchedulerKind.Create(config);
            // Within 1e-6: torch.linspace's vectorised betas differ from ours by an ulp here and there; the double cumprod is exact.
            Tolerance.Close(outputs.Floats("alphas_cumprod"), scheduler.Schedule.AlphasCumprod, 0, 1e-6f, "alphas_cumprod");
            foreach (int steps in new[] { 20, 50 })
            {
                scheduler.SetTimesteps(steps);
                CheckSchedule(outputs, scheduler, $"{steps}");
                Assert.Equal(outputs.Floats($"init_noise_sigma_{steps}")[0], (float)scheduler.InitNoiseSigma, 5);
                foreach (string spacing in new[] { "leading", "trailing", "linspace" })
                {
                    Scheduler spaced = SchedulerKind.Create(config with { TimestepSpacing = spacing });
                    spaced.SetTimesteps(steps);
                    CheckSchedule(outputs, spaced, $"{steps}_{spacing}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void TrajectoryMatchesDiffusers(string folder)
    {
        (SchedulerConfig config, RefTensors outputs, RefTensors inputs) = Open(folder);
        using (outputs)
        using (inputs)
        {
            Scheduler scheduler = SchedulerKind.Create(config);
            scheduler.SetTimesteps(20);
            float[] x = inputs.Floats("x_start").Select(v => (float)(v * scheduler.InitNoiseSigma)).ToArray();
            int size = x.Length;
            float[] modelOutputs = inputs.Floats("model_outputs");
            float[]? noises = outputs.Contains("traj_noise") ? outputs.Floats("traj_noise") : null;
            long[]? noiseRows = outputs.Contains("traj_noise_step_index") ? outputs.Longs("traj_noise_step_index") : null;
            var generator = new TorchGenerator(1234);
            float[] previousX0 = [];
            int drawn = 0;
            for (int i = 0; i < 20; i++)
            {
                string at = $"{folder} step {i}";
                Assert.Equal(TimestepsOf(outputs, "traj_timesteps")[i], (float)scheduler.Timesteps[i], 3);
                float[] scaled = x.Select(v => (float)(v * scheduler.InputScale(i))).ToArray();
                Tolerance.Close(Row(outputs.Floats("traj_scaled_input"), i, size), scaled, 1e-5f, 1e-5f, at + " scaled input");
                StepPlan plan = scheduler.Plan(i);
                float[] noise = [];
                if (plan.DrawsNoise)
                {
                    noise = generator.Randn(size);
                    Assert.NotNull(noises);
                    Assert.Equal(drawn, noiseRows![i]);
                    Assert.Equal(Row(noises, drawn++, size), noise);
                }
                else if (noiseRows is not null)
                {
                    Assert.Equal(-1, noiseRows[i]);
                }

                float[] extra = plan.Extra switch { StepExtra.Noise => noise, StepExtra.PreviousPrediction => previousX0, _ => [] };
                (float[] next, float[] x0) = HostStep.Apply(plan, x, Row(modelOutputs, i, size), extra);
                if (outputs.Contains("traj_pred_original_sample"))
                {
                    Tolerance.Close(Row(outputs.Floats("traj_pred_original_sample"), i, size), x0, 1e-5f, 1e-4f, at + " x0");
                }

                Tolerance.Close(Row(outputs.Floats("traj_prev_sample"), i, size), next, 1e-5f, 1e-4f, at + " prev_sample");
                (x, previousX0) = (Row(outputs.Floats("traj_prev_sample"), i, size), x0);
            }
        }
    }

    private static void CheckSchedule(RefTensors outputs, Scheduler scheduler, string suffix)
    {
        Tolerance.Close(TimestepsOf(outputs, $"timesteps_{suffix}"), scheduler.Timesteps.Select(t => (float)t).ToArray(), 1e-4f, 0, $"timesteps_{suffix}");
        if (outputs.Contains($"sigmas_{suffix}"))
        {
            double[] sigmas = scheduler switch
            {
                EulerDiscreteScheduler e => e.Sigmas,
                DpmSolverMultistepScheduler d => d.Sigmas,
                _ => throw new InvalidOperationException("no sigmas"),
            };
            Tolerance.Close(outputs.Floats($"sigmas_{suffix}"), sigmas.Select(s => (float)s).ToArray(), 1e-6f, 1e-5f, $"sigmas_{suffix}");
        }
    }

    // Euler's timesteps are float32, the others' int64.
    private static float[] TimestepsOf(RefTensors outputs, string name) => outputs.DType(name) == "F32"
        ? outputs.Floats(name)
        : outputs.Longs(name).Select(v => (float)v).ToArray();

    private static float[] Row(float[] all, int row, int size) => all.AsSpan(row * size, size).ToArray();

    private static (SchedulerConfig, RefTensors, RefTensors) Open(string folder)
    {
        string dir = RepoPaths.Shared("refs", "schedulers", folder);
        return (SchedulerConfig.Load(Path.Combine(dir, "scheduler_config.json")),
            new RefTensors(Path.Combine(dir, "outputs.safetensors")), new RefTensors(Path.Combine(dir, "inputs.safetensors")));
    }
}

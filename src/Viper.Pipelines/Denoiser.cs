using Viper.Models.Unet;
using Viper.Runtime;
using Viper.Runtime.Guidance;
using Viper.Schedulers;

namespace Viper.Pipelines;

/// <summary>
/// The denoising loop of one model: per step, one UNet call on the stacked batch, then the fused guidance kernel
/// combines the outputs and applies the scheduler's step plan to the f32 latents in place. DPM-Solver's x₀ history is
/// kept with a second guidance call that writes x₀ = P·x + Q·eps into a buffer; a clip_sample step (DDIM/DDPM) writes x₀
/// the same way, clamps it, and adds it as the update's extra term. With <paramref name="captureSteps"/> on a
/// backend that records graphs, the network evaluation of a step is recorded once and replayed at every step.
/// </summary>
internal sealed class Denoiser(IBackend backend, UNet2DConditionModel unet, DType dtype, bool captureSteps)
{
    /// <summary>Runs steps [<paramref name="from"/>, <paramref name="to"/>); returns the recorded graph's node count when one was replayed.</summary>
    public int? Run(string stage, Scheduler scheduler, int from, int to, Tensor latents, Conditioning conditioning, TorchGenerator generator,
        IProgress<GenerationProgress>? progress, Action<int>? onStepEnd, CancellationToken cancellationToken)
    {
        IBackend b = backend;
        (int n, int h, int w, int c) = (latents.Shape[0], latents.Shape[1], latents.Shape[2], latents.Shape[3]);
        Tensor? previousX0 = null;
        using CapturedNoisePrediction? captured = captureSteps && from < to && b is IGraphCapture capture
            ? new CapturedNoisePrediction(b, capture, unet, dtype, latents, conditioning)
            : null;
        try
        {
            progress?.Report(new GenerationProgress(stage, 0, to - from));
            for (int i = from; i < to; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using Tensor? owned = captured is null ? PredictNoise(scheduler, i, latents, conditioning) : null;
                Tensor eps = owned ?? captured!.Predict((float)scheduler.InputScale(i), (float)scheduler.Timesteps[i]);
                StepPlan plan = scheduler.Plan(i);
                using Tensor? noise = plan.DrawsNoise ? Noise(generator, n, c, h, w) : null;
                Tensor? extra = plan.Extra switch
                {
                    StepExtra.Noise => noise,
                    StepExtra.PreviousPrediction => previousX0 ?? throw new InvalidOperationException("second-order step without a previous x0"),
                    _ => null,
                };
                using Tensor epsU = eps.Slice(0, n);
                using Tensor epsC = eps.Slice(n, n);
                using Tensor epsPlus = conditioning.Groups == 4 ? eps.Slice(2 * n, n) : eps.Slice(n, n);
                using Tensor epsMinus = conditioning.Groups == 4 ? eps.Slice(3 * n, n) : eps.Slice(n, n);
                if (plan.Clip is { } clip)
                {
                    using Tensor x0 = PredictedOriginal(epsU, epsC, epsPlus, epsMinus, latents, plan, conditioning);
                    ClippedStep(epsU, epsC, epsPlus, epsMinus, latents, x0, noise, plan, clip, conditioning);
                }
                else
                {
                    Tensor? x0 = scheduler is DpmSolverMultistepScheduler ? PredictedOriginal(epsU, epsC, epsPlus, epsMinus, latents, plan, conditioning) : null;
                    b.Diffusion().GuidanceStep(epsU, epsC, epsPlus, epsMinus, latents, extra, Step(conditioning, plan.Update));
                    if (x0 is not null)
                    {
                        previousX0?.Dispose();
                        previousX0 = x0;
                    }
                }

                progress?.Report(new GenerationProgress(stage, i - from + 1, to - from));
                onStepEnd?.Invoke(i);
            }

            return captured?.NodeCount;
        }
        finally
        {
            previousX0?.Dispose();
        }
    }

    /// <summary>x₀ = P·x + Q·eps of the guided prediction, into a new buffer (the latents stay as they are).</summary>
    private Tensor PredictedOriginal(Tensor epsU, Tensor epsC, Tensor epsPlus, Tensor epsMinus, Tensor latents, StepPlan plan, Conditioning conditioning)
    {
        Tensor x0 = backend.Clone(latents);
        backend.Diffusion().GuidanceStep(epsU, epsC, epsPlus, epsMinus, x0, null, Step(conditioning,
            new SchedulerUpdate((float)plan.X0FromSample, (float)plan.X0FromOutput, 0f)));
        return x0;
    }

    /// <summary>
    /// x ← A·x + B·eps + w·clamp(x₀, ±r), then + C·noise: diffusers' order for DDPM's mean + σ·z. The second guidance call
    /// adds only the noise (1·x + 0·eps is x exactly).
    /// </summary>
    private void ClippedStep(Tensor epsU, Tensor epsC, Tensor epsPlus, Tensor epsMinus, Tensor latents, Tensor x0, Tensor? noise, StepPlan plan,
        ClippedPrediction clip, Conditioning conditioning)
    {
        IBackend b = backend;
        using Tensor clamped = b.Clamp(x0, -(float)clip.Range, (float)clip.Range);
        b.Diffusion().GuidanceStep(epsU, epsC, epsPlus, epsMinus, latents, clamped, Step(conditioning, plan.Update with { C = (float)clip.Weight }));
        if (plan.Extra == StepExtra.Noise && noise is not null)
        {
            b.Diffusion().GuidanceStep(epsU, epsC, epsPlus, epsMinus, latents, noise, Step(conditioning, new SchedulerUpdate(1f, 0f, plan.Update.C)));
        }
    }

    private Tensor PredictNoise(Scheduler scheduler, int index, Tensor latents, Conditioning conditioning)
    {
        IBackend b = backend;
        using Tensor scaled = b.Scale(latents, (float)scheduler.InputScale(index));
        using Tensor? cast = dtype == scaled.DType ? null : b.Cast(scaled, dtype);
        using Tensor stacked = b.Concat(Enumerable.Repeat(cast ?? scaled, conditioning.Groups).ToArray(), axis: 0);
        int rows = stacked.Shape[0];
        using Tensor timesteps = b.FromFloats(Enumerable.Repeat((float)scheduler.Timesteps[index], rows).ToArray(), new Shape(rows));
        return unet.Forward(b, stacked, timesteps, conditioning.Context, conditioning.Added);
    }

    private Tensor Noise(TorchGenerator generator, int n, int c, int h, int w)
    {
        float[] nchw = generator.Randn(n * c * h * w);
        return backend.FromFloats(LatentLayout.NchwToNhwc(nchw, n, c, h, w), new Shape(n, h, w, c));
    }

    private static GuidanceStep Step(Conditioning conditioning, SchedulerUpdate update) =>
        conditioning.Groups == 4
            ? new GuidanceStep(conditioning.W, conditioning.BetaPositive, conditioning.BetaNegative, update)
            : GuidanceStep.ClassifierFree(conditioning.W, update);
}

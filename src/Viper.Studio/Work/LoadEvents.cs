using System.Text.Json.Nodes;
using Viper.Pipelines;
using Viper.Studio.Jobs;

namespace Viper.Studio.Work;

/// <summary>
/// A model load's progress as the job's "progress" events (stage "load"), one per whole percent: an 8B checkpoint
/// reports ~760 tensors, and every event stays in the job's history.
/// </summary>
internal static class LoadEvents
{
    public static IProgress<GenerationProgress> For(Job job, string? image = null)
    {
        int posted = -1;
        return new SynchronousProgress<GenerationProgress>(p =>
        {
            int percent = p.Percent;
            if (percent == posted)
            {
                return;
            }

            posted = percent;
            var data = new JsonObject { ["stage"] = "load", ["step"] = p.Step, ["total"] = p.TotalSteps };
            if (image is not null)
            {
                data["image"] = image;
            }

            job.Post("progress", data);
        });
    }
}

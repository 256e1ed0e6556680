using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Viper.Studio.Jobs;

/// <summary>
/// Runs one job's work to its end state, on whichever worker took it (the studio's in-process queue, or a
/// `viper worker` behind Redis): running, then done, cancelled (its token or the stopping one fired) or failed with a
/// message fit for a client — never a stack trace or a server path (those go to the log).
/// </summary>
public static class JobExecution
{
    public static void Run(Job job, CancellationToken stopping, ILogger log, ClientText clientText)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(job.CancellationToken, stopping);
        if (linked.IsCancellationRequested)
        {
            job.Enter(JobState.Cancelled);
            return;
        }

        job.Enter(JobState.Running);
        try
        {
            job.Work(job, linked.Token);
            job.Enter(JobState.Done);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            job.Enter(JobState.Cancelled);
        }
        catch (Exception e)
        {
            log.LogError(e, "{Kind} job {Id} failed", job.Kind, job.Id);
            JsonObject error = new() { ["message"] = clientText.Redact(e.Message) }; // the log keeps the paths
            if (e is Pipelines.Preferences.PreferenceParseException parse)
            {
                error["message"] = "the extractor's text has no 'Liked Art Features:' / 'Disliked Art Features:' sections; edit the preferences by hand or extract again";
                error["text"] = parse.RawText;
            }

            job.Post("error", error);
            job.Enter(JobState.Failed);
        }
    }
}

using System.Text.Json.Nodes;
using Viper.Imaging;
using Viper.Pipelines.Preferences;
using Viper.Studio.Jobs;
using Viper.Studio.Library;

namespace Viper.Studio.Work;

/// <summary>A scoring job: the metric's score of each query image for a user who liked and disliked the given images.</summary>
public static class ScoringWork
{
    public static Action<Job, CancellationToken> Create(IReadOnlyList<StoredImage> disliked, IReadOnlyList<StoredImage> liked, IReadOnlyList<StoredImage> query,
        ImageLibrary library, ModelSlots models) => (job, cancellationToken) =>
    {
        RgbImage[] likedImages = [.. liked.Select(library.Load)], dislikedImages = [.. disliked.Select(library.Load)], queryImages = [.. query.Select(library.Load)];
        using ModelLease<ProxyMetric> metric = models.Metric(LoadEvents.For(job, "score"), cancellationToken);
        job.Post("progress", new JsonObject { ["image"] = "score", ["stage"] = "metric", ["step"] = 0, ["total"] = 1 });
        IReadOnlyList<double> scores = metric.Model.Score(dislikedImages, likedImages, queryImages, cancellationToken);
        job.Post("progress", new JsonObject { ["image"] = "score", ["stage"] = "metric", ["step"] = 1, ["total"] = 1 });
        job.Post("result", new JsonObject
        {
            ["pairs"] = liked.Count,
            ["scores"] = new JsonArray([.. query.Select((q, i) => (JsonNode)new JsonObject { ["image"] = q.Id, ["score"] = scores[i] })]),
        });
    };
}

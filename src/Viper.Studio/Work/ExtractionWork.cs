using System.Text.Json.Nodes;
using Viper.Imaging;
using Viper.Pipelines.Preferences;
using Viper.Studio.Jobs;
using Viper.Studio.Library;

namespace Viper.Studio.Work;

/// <summary>An extraction job: loads the extractor, streams its text as "text" events, saves and returns the preference.</summary>
public static class ExtractionWork
{
    public static Action<Job, CancellationToken> Create(IReadOnlyList<(StoredImage Image, string Comment)> items, ImageLibrary library,
        ModelSlots models, PreferenceStore preferences, StudioOptions options) => (job, cancellationToken) =>
    {
        RgbImage[] images = [.. items.Select(i => library.Load(i.Image))];
        using ModelLease<PreferenceExtractor> lease = models.Extractor(LoadEvents.For(job), cancellationToken);
        PreferenceExtractor extractor = lease.Model;
        CommentedImage[] commented = [.. items.Select(i => new CommentedImage(library.PathOf(i.Image), i.Comment))];
        int tokens = 0;
        ExtractedPreference extracted = extractor.Extract(commented, images, options.ExtractorOptions, text =>
        {
            job.Post("text", new JsonObject { ["text"] = text, ["tokens"] = ++tokens });
        }, cancellationToken);
        preferences.Save(extracted);
        job.Post("result", new JsonObject
        {
            ["likes"] = new JsonArray([.. extracted.Preference.Likes.Select(l => (JsonNode)l)]),
            ["dislikes"] = new JsonArray([.. extracted.Preference.Dislikes.Select(d => (JsonNode)d)]),
            ["text"] = extracted.RawText,
        });
    };
}

using Viper.Pipelines;
using Viper.Studio.Api;
using Viper.Studio.Jobs;
using Viper.Studio.Library;

namespace Viper.Studio.Work;

/// <summary>
/// A request body (the studio API's JSON) checked and turned into the work a job runs, and the device whose worker runs
/// it — the same checks wherever the body comes from: the studio's own endpoints, or a job a `viper worker` takes off the
/// queue (a payload put there by anyone is refused as the API would refuse it). Images are named by library id only.
/// </summary>
public sealed class JobRequests(StudioOptions options, ImageLibrary library, ModelSlots models, PreferenceStore preferences, StudioGeometry geometry,
    LoraLibrary loras)
{
    public (Runtime.DeviceName Device, Action<Job, CancellationToken> Work) Extraction(ExtractRequest body)
    {
        if (options.Extractor is null || options.ExtractorAdapter is null)
        {
            throw new ApiException(Microsoft.AspNetCore.Http.StatusCodes.Status409Conflict, "no extractor is configured: start the studio with --extractor and --adapter");
        }

        var items = body.Resolve(library);
        return (options.DeviceOf("extractor"), ExtractionWork.Create(items, library, models, preferences, options));
    }

    public (Runtime.DeviceName Device, Action<Job, CancellationToken> Work) Scoring(ScoreRequest body)
    {
        if (options.Metric is null)
        {
            throw new ApiException(Microsoft.AspNetCore.Http.StatusCodes.Status409Conflict, "no metric is configured: start the studio with --metric");
        }

        (IReadOnlyList<StoredImage> disliked, IReadOnlyList<StoredImage> liked, IReadOnlyList<StoredImage> query) = body.Resolve(library);
        return (options.DeviceOf("metric"), ScoringWork.Create(disliked, liked, query, library, models));
    }

    public (Runtime.DeviceName Device, Action<Job, CancellationToken> Work) Generation(GenerateRequest body)
    {
        if (geometry.Value is not { } shape)
        {
            throw new ApiException(Microsoft.AspNetCore.Http.StatusCodes.Status409Conflict, "no generator is configured: start the studio with --model");
        }

        VisualPreference preference = body.Preference?.ToPreference("preference.") ?? preferences.Current;
        if (preference.IsEmpty)
        {
            throw ApiException.BadRequest("preference: no liked or disliked attributes yet; extract them or add some");
        }

        GenerationRequest generation = body.ToRequest(shape, preference, loras);
        (IReadOnlyList<StoredImage> disliked, IReadOnlyList<StoredImage> liked) = body.MetricContext(library);
        return (options.DeviceOf("generator"), GenerationWork.Create(generation, disliked, liked, library, models, options));
    }
}

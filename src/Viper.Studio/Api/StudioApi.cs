using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Studio.Jobs;
using Viper.Studio.Library;
using Viper.Studio.Work;

namespace Viper.Studio.Api;

/// <summary>
/// The JSON API (the page is one client of it; README "viper studio" documents every route). Requests are checked here,
/// before any work is queued; jobs report through server-sent events.
/// </summary>
public static class StudioApi
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => StaticAssets.Serve("index.html"));
        app.MapGet("/assets/{name}", (string name) => StaticAssets.Serve(name));
        app.MapGet("/api/status", Status);

        app.MapGet("/api/images", (ImageLibrary library) => Results.Json(new { images = library.All }));
        app.MapGet("/api/images/{id}", (string id, ImageLibrary library) =>
        {
            StoredImage image = library.Find(id) ?? throw ApiException.NotFound($"no image with id '{id}'");
            string path = library.PathOf(image);
            return File.Exists(path) ? Results.File(path, "image/png") : throw ApiException.NotFound($"image '{id}' is no longer in the workspace");
        });
        app.MapPost("/api/images", Upload);

        app.MapGet("/api/preferences", (PreferenceStore store) => Preference(store.Current));
        app.MapPut("/api/preferences", async (HttpRequest request, PreferenceStore store) =>
        {
            VisualPreference preference = (await ErrorHandling.ReadJson<PreferenceRequest>(request)).ToPreference();
            store.Save(preference);
            return Preference(preference);
        });
        app.MapGet("/api/preferences/file", (PreferenceStore store) => File.Exists(store.Path)
            ? Results.File(store.Path, "application/json", "preferences.json")
            : throw ApiException.NotFound("no preferences saved yet"));

        app.MapPost("/api/extract", Extract);
        app.MapPost("/api/generate", Generate);
        app.MapPost("/api/score", async (HttpRequest request, IJobService jobs) =>
            Results.Json(await jobs.SubmitScoringAsync(await ErrorHandling.ReadJson<ScoreRequest>(request)), statusCode: StatusCodes.Status202Accepted));
        app.MapGet("/api/loras", (LoraLibrary loras) => Results.Json(new { loras = loras.Names }));

        app.MapGet("/api/jobs/{id}", async (string id, IJobService jobs) => Results.Json(await jobs.SnapshotAsync(id) ?? throw NoJob(id)));
        app.MapGet("/api/jobs/{id}/events", Events);
        app.MapPost("/api/jobs/{id}/cancel", async (string id, IJobService jobs) =>
            Results.Json(await jobs.CancelAsync(id) ?? throw NoJob(id), statusCode: StatusCodes.Status202Accepted));
    }

    // Behind Redis (`viper serve`) the models live on the workers: this process lists no device.
    private static async Task<IResult> Status(StudioOptions options, IJobService jobs, StudioGeometry geometry, ModelSlots models) => Results.Json(new
    {
        devices = jobs is LocalJobService ? models.Devices.Select(d => new
        {
            device = d.Device.ToString(),
            kinds = StudioOptions.ModelKinds.Where(k => options.DeviceOf(k) == d.Device),
            resident = d.Resident.Select(r => new { kind = r.Kind, weightBytes = r.WeightBytes, runBytes = r.RunBytes }),
            loads = d.Loads,
        }) : [],
        generator = FolderName(options.Generator),
        extractor = FolderName(options.Extractor),
        metric = FolderName(options.Metric),
        recommendedComments = CommentedImage.Recommended,
        sizeMultiple = geometry.Value?.SizeMultiple,
        defaultSize = geometry.Value?.DefaultSize,
        waiting = await jobs.WaitingAsync(),
        maxUploadBytes = options.MaxUploadBytes,
        limits = new
        {
            steps = Range(GenerationLimits.Steps), beta = Range(GenerationLimits.Beta), guidance = Range(GenerationLimits.Guidance),
            size = Range(GenerationLimits.Size),
        },
    });

    private static object Range<T>(Limit<T> limit)
        where T : struct, IComparable<T>, IFormattable => new { min = limit.Min, max = limit.Max };

    private static async Task<IResult> Upload(HttpRequest request, ImageLibrary library, StudioOptions options)
    {
        if (!request.HasFormContentType)
        {
            throw ApiException.BadRequest("send the images as multipart/form-data, in fields named 'files'");
        }

        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
        }
        catch (InvalidDataException e)
        {
            throw FormLimit(e, options);
        }

        if (form.Files.Count == 0)
        {
            throw ApiException.BadRequest("the upload holds no file");
        }

        // Every file is checked before any is stored: a bad one refuses the whole upload and writes nothing. Files are
        // decoded one at a time in native memory freed at once, and only their re-encoded PNG is kept, so memory holds one
        // decoded image, not all of them (four 6300×6300 images in one request took 1.2 GB before).
        var encoded = new List<EncodedImage>();
        foreach (IFormFile file in form.Files)
        {
            string label = ImageLibrary.Clean(file.FileName);
            if (file.Length > options.MaxUploadBytes)
            {
                throw new ApiException(StatusCodes.Status413PayloadTooLarge, $"{label} is over the {options.MaxUploadBytes >> 20} MiB limit");
            }

            byte[] bytes;
            using (var buffer = new MemoryStream())
            {
                await file.CopyToAsync(buffer, request.HttpContext.RequestAborted);
                bytes = buffer.ToArray();
            }

            (byte[] png, int width, int height) = UploadDecoder.Reencode(bytes, label, options.MaxUploadPixels);
            encoded.Add(ImageLibrary.Encoded(png, width, height, "upload", label));
        }

        StoredImage[] stored = [.. encoded.Select(library.Add)];
        return Results.Json(new { images = stored }, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>The form reader's refusal in the client's terms: which limit the upload hit (ASP.NET names them in its message).</summary>
    private static ApiException FormLimit(InvalidDataException e, StudioOptions options) => e.Message switch
    {
        var m when m.Contains("count limit", StringComparison.OrdinalIgnoreCase) =>
            new ApiException(StatusCodes.Status413PayloadTooLarge, $"an upload holds at most {StudioHost.MaxFilesPerUpload} files; send the rest in another"),
        var m when m.Contains("length limit", StringComparison.OrdinalIgnoreCase) =>
            new ApiException(StatusCodes.Status413PayloadTooLarge, $"an uploaded file is over the {options.MaxUploadBytes >> 20} MiB limit"),
        _ => ApiException.BadRequest($"the upload is not well-formed multipart/form-data: {e.Message}"),
    };

    private static async Task<IResult> Extract(HttpRequest request, IJobService jobs) =>
        Results.Json(await jobs.SubmitExtractionAsync(await ErrorHandling.ReadJson<ExtractRequest>(request)), statusCode: StatusCodes.Status202Accepted);

    private static async Task<IResult> Generate(HttpRequest request, IJobService jobs) =>
        Results.Json(await jobs.SubmitGenerationAsync(await ErrorHandling.ReadJson<GenerateRequest>(request)), statusCode: StatusCodes.Status202Accepted);

    /// <summary>
    /// The job's events until it ends, the page goes away, or the server stops: a stopping server cancels its jobs
    /// (<see cref="JobQueue"/>), gives the stream a moment to carry the cancelled state, then closes it, so an open page
    /// never holds the shutdown. Each event carries its id, so a page that reconnects (its server restarted, say) sends
    /// Last-Event-ID and resumes after it.
    /// </summary>
    private static async Task Events(string id, HttpContext context, IJobService jobs, IHostApplicationLifetime lifetime)
    {
        if (await jobs.SnapshotAsync(id) is null)
        {
            throw NoJob(id);
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        string? after = context.Request.Headers["Last-Event-ID"].FirstOrDefault();
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        using CancellationTokenRegistration stopping = lifetime.ApplicationStopping.Register(() => closing.CancelAfter(ShutdownGrace));
        try
        {
            await foreach (JobStreamEvent e in jobs.FollowAsync(id, after, closing.Token))
            {
                await context.Response.WriteAsync($"id: {e.Id}\nevent: {e.Type}\ndata: {e.Data.ToJsonString()}\n\n", closing.Token);
                await context.Response.Body.FlushAsync(closing.Token);
            }
        }
        catch (OperationCanceledException) when (closing.IsCancellationRequested)
        {
            // The page went away (the job goes on), or the server is stopping.
        }
    }

    /// <summary>
    /// How long, at most, an event stream stays open once the server stops, for the job's cancelled state to reach the page:
    /// the stream ends as soon as the job has (at its next step); this bounds a job slow to stop. 500 ms was too short on a
    /// loaded machine, where the stream closed before the worker posted "cancelled".
    /// </summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(2);

    private static string? FolderName(string? folder) => folder is null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));

    private static ApiException NoJob(string id) => ApiException.NotFound($"no job with id '{id}'");

    private static IResult Preference(VisualPreference preference) => Results.Json(new { likes = preference.Likes, dislikes = preference.Dislikes });
}

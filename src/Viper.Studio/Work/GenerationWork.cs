using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Pipelines.Preferences;
using Viper.Studio.Jobs;
using Viper.Studio.Library;

namespace Viper.Studio.Work;

/// <summary>
/// A generation job: the personalized image, then the plain one from the same seed (no preference, i.e. β = 0), each
/// reporting every step ("progress") with a latent preview ("preview", a PNG data URL); both are stored in the library,
/// then scored with the metric against the marked images when there is a metric and at least one liked/disliked pair.
/// Each stored PNG carries the same <c>parameters</c> record as `viper generate` writes (the model named by its folder
/// name, as everything the page sees), so a studio image can be made again.
/// </summary>
public static class GenerationWork
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Action<Job, CancellationToken> Create(GenerationRequest request, IReadOnlyList<StoredImage> disliked, IReadOnlyList<StoredImage> liked,
        ImageLibrary library, ModelSlots models, StudioOptions options) => (job, cancellationToken) =>
    {
        RgbImage[] likedImages = [.. liked.Select(library.Load)], dislikedImages = [.. disliked.Select(library.Load)];
        var made = new List<(string Name, JsonNode? Stored, RgbImage Image)>();
        using (ModelLease<ViperPipeline> lease = models.Generator(LoadEvents.For(job, "personalized"), cancellationToken))
        {
            Generate(job, request, lease.Model, library, models, options, made, cancellationToken);
        }

        IReadOnlyList<double>? scores = null;
        string? scoreNote = options.Metric is null ? "no metric is configured (start the studio with --metric)"
            : liked.Count == 0 ? "mark at least one image liked and one disliked to score" : null;
        if (scoreNote is null)
        {
            using ModelLease<ProxyMetric> metric = models.Metric(LoadEvents.For(job, "score"), cancellationToken); // the generator's device is free again
            job.Post("progress", new JsonObject { ["image"] = "score", ["stage"] = "metric", ["step"] = 0, ["total"] = 1 });
            scores = metric.Model.Score(dislikedImages, likedImages, [.. made.Select(m => m.Image)], cancellationToken);
            job.Post("progress", new JsonObject { ["image"] = "score", ["stage"] = "metric", ["step"] = 1, ["total"] = 1 });
        }

        var result = new JsonObject { ["pairs"] = liked.Count, ["scoreNote"] = scoreNote };
        for (int i = 0; i < made.Count; i++)
        {
            result[made[i].Name] = new JsonObject { ["image"] = made[i].Stored, ["score"] = scores is null ? null : scores[i] };
        }

        job.Post("result", result);
    };

    // The personalized image, then the plain one from the same seed, each stored in the library as it is made.
    private static void Generate(Job job, GenerationRequest request, ViperPipeline pipeline, ImageLibrary library, ModelSlots models, StudioOptions options,
        List<(string Name, JsonNode? Stored, RgbImage Image)> made, CancellationToken cancellationToken)
    {
        foreach ((string name, GenerationRequest q) in new[] { ("personalized", request), ("plain", request with { Preference = null }) })
        {
            var progress = new SynchronousProgress<GenerationProgress>(p =>
                job.Post("progress", new JsonObject { ["image"] = name, ["stage"] = p.Stage, ["step"] = p.Step, ["total"] = p.TotalSteps }));
            GenerationResult generated = pipeline.Generate(q with { OnStepEnd = state => Preview(job, name, state) }, progress, cancellationToken);
            // The record is served to the page: folders by name only, never a server path.
            PipelineOptions shown = models.GeneratorOptions with { ConfigFolder = models.GeneratorOptions.ConfigFolder is { } c ? Path.GetFileName(Path.TrimEndingDirectorySeparator(c)) : null };
            var setup = new GenerationSetup(models.SlotsOf("generator").Device.ToString(), shown, Path.GetFileName(Path.TrimEndingDirectorySeparator(options.Generator!)));
            StoredImage stored = library.Add(generated.Images[0], "generated", $"{q.Prompt} ({name}, seed {q.Seed})", q.Prompt, q.Seed,
                GenerationRecord.PngText(q, generated, setup));
            JsonNode? storedJson = JsonSerializer.SerializeToNode(stored, Json);
            made.Add((name, storedJson, generated.Images[0]));
            job.Post("image", new JsonObject { ["image"] = name, ["stored"] = storedJson?.DeepClone(), ["liked"] = generated.LikedText, ["disliked"] = generated.DislikedText });
        }

    }

    private static void Preview(Job job, string name, StepState state)
    {
        if (state.Preview() is not [RgbImage preview, ..])
        {
            return;
        }

        using var png = new MemoryStream();
        PngWriter.Write(png, preview);
        job.PostSuperseded("preview", new JsonObject
        {
            ["image"] = name, ["step"] = state.Step, ["total"] = state.TotalSteps,
            ["png"] = "data:image/png;base64," + Convert.ToBase64String(png.ToArray()),
        }, new JsonObject { ["image"] = name, ["step"] = state.Step, ["total"] = state.TotalSteps });
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Runtime;
using static Viper.Engine.Tests.Support.StudioClient;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// The studio's JSON API in-process (WebApplicationFactory) on tiny models: each endpoint's happy path, and bad input
/// answered with a 4xx and a message, nothing written.
/// </summary>
public sealed class StudioApiTests(StudioModels models) : IClassFixture<StudioModels>, IDisposable
{
    private static readonly byte[] Png = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "images", "rgba_260x260.png"));
    private static readonly byte[] OtherPng = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "images", "landscape_320x240.png"));
    private readonly TempFolder _workspace = new();

    private string Images => Path.Combine(_workspace.Path, "images");

    [Fact]
    public async Task StatusPageAndAssetsAreServed()
    {
        using StudioFactory studio = Studio(generator: true, extractor: true, metric: true);
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Get, "/api/status");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tiny-sdxl", body!["generator"]!.GetValue<string>());
        Assert.Equal(8, body["recommendedComments"]!.GetValue<int>());
        Assert.Equal(GenerationLimits.Steps.Max, body["limits"]!["steps"]!["max"]!.GetValue<int>()); // the page's inputs take the shared limits
        Assert.Equal(GenerationLimits.Guidance.Max, body["limits"]!["guidance"]!["max"]!.GetValue<float>());
        Assert.Equal(PipelineGeometry.Read(models.Pipelines.Sdxl).SizeMultiple, body["sizeMultiple"]!.GetValue<int>());
        string page = await client.Http.GetStringAsync("/");
        Assert.Contains("<title>Viper Studio</title>", page, StringComparison.Ordinal);
        using HttpResponseMessage script = await client.Http.GetAsync("/assets/studio.js");
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await client.Http.GetAsync("/assets/..%2F..%2Fappsettings.json")).StatusCode);
    }

    [Fact]
    public async Task UploadsAreDecodedReencodedAndNamedByTheirContent()
    {
        using StudioFactory studio = Studio();
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? body) = await client.Upload(("../../etc/evil.png", Png));
        Assert.Equal(HttpStatusCode.Created, status);
        JsonNode image = body!["images"]![0]!;
        string id = image["id"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{16}$", id);
        Assert.Equal("evil.png", image["label"]!.GetValue<string>());
        Assert.Equal([id + ".json", id + ".png"], Directory.GetFiles(Images).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["images"], Directory.GetFileSystemEntries(_workspace.Path).Select(Path.GetFileName));

        // What comes back is our own PNG of the same pixels (the alpha composited over white, as every decoder here does).
        RgbImage served = ImageFile.Decode(await client.Http.GetByteArrayAsync($"/api/images/{id}"));
        Assert.Equal(ImageFile.Decode(Png).Pixels, served.Pixels);
        Assert.Equal([id], await client.UploadOk(("again.png", Png)));
        (_, JsonNode? list) = await client.Send(HttpMethod.Get, "/api/images");
        Assert.Single(list!["images"]!.AsArray());
    }

    public static TheoryData<string, int, string> BadUploads() => new()
    {
        { "oversized", 413, "is over the 0 MiB limit" },
        { "text", 400, "notes.png is not a PNG, JPEG, WebP, GIF or BMP image" },
        { "truncated", 400, "cut.png" },
        { "good-and-bad", 400, "notes.png is not a PNG" },
        { "empty", 400, "the upload holds no file" },
        { "not-multipart", 400, "multipart/form-data" },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task BadUploadsAreRefusedWithAMessageAndNothingIsWritten(string kind, int expected, string message)
    {
        using StudioFactory studio = Studio(maxUploadBytes: kind == "oversized" ? 1000 : 20L << 20);
        var client = new StudioClient(studio.CreateClient());
        byte[] text = "just some notes"u8.ToArray();
        (HttpStatusCode status, JsonNode? body) = kind switch
        {
            "oversized" => await client.Upload(("big.png", Png)),
            "text" => await client.Upload(("notes.png", text)),
            "truncated" => await client.Upload(("cut.png", Png[..(Png.Length / 2)])),
            "good-and-bad" => await client.Upload(("good.png", Png), ("notes.png", text)),
            "empty" => await client.Upload(form => form.Add(new StringContent("a note"), "note")),
            _ => await client.Send(HttpMethod.Post, "/api/images", "{}"),
        };
        Assert.Equal(expected, (int)status);
        Assert.Contains(message, body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Images));
    }

    [Theory]
    [InlineData("GET", "/api/images/..%2F..%2Fetc%2Fpasswd", "no image with id")]
    [InlineData("GET", "/api/images/0123456789abcdef", "no image with id '0123456789abcdef'")]
    [InlineData("GET", "/api/jobs/nope", "no job with id 'nope'")]
    [InlineData("GET", "/api/jobs/nope/events", "no job with id 'nope'")]
    [InlineData("POST", "/api/jobs/nope/cancel", "no job with id 'nope'")]
    [InlineData("GET", "/api/preferences/file", "no preferences saved yet")]
    public async Task UnknownIdsAreNotFound(string method, string url, string message)
    {
        using StudioFactory studio = Studio();
        (HttpStatusCode status, JsonNode? body) = await new StudioClient(studio.CreateClient()).Send(new HttpMethod(method), url);
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains(message, body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PUT", "/api/preferences", "{\"likes\": [\"ink\"", "the request body is not valid JSON")]
    [InlineData("PUT", "/api/preferences", "{\"likes\": [\"ink, wash\"]}", "likes[0]: an attribute is a string of at most 200 characters without commas")]
    [InlineData("PUT", "/api/preferences", "{\"likes\": \"ink\"}", "likes: the value has the wrong type")]
    [InlineData("POST", "/api/extract", "[]", "the request body must be a JSON object")]
    [InlineData("POST", "/api/extract", "{\"items\": []}", "items: pick at least one image")]
    [InlineData("POST", "/api/extract", "{\"items\": [{\"image\": \"../../x\", \"comment\": \"nice\"}]}", "items[0].image: no image with id '../../x'")]
    [InlineData("POST", "/api/extract", "{\"items\": [{\"image\": \"IMAGE\", \"comment\": \"  \"}]}", "items[0].comment: the comment on")]
    [InlineData("POST", "/api/generate", "{\"prompt\": 5}", "prompt: the value has the wrong type")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \"a cat\"}", "preference: no liked or disliked attributes yet")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \" \", \"preference\": {\"likes\": [\"ink\"]}}", "prompt: write what to generate")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \"a cat\", \"width\": 20, \"preference\": {\"likes\": [\"ink\"]}}", "width: 20 is not a multiple of 16")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \"a cat\", \"steps\": 0, \"preference\": {\"likes\": [\"ink\"]}}", "steps: 0 is not between 1 and 1000")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \"a cat\", \"beta\": -1, \"preference\": {\"likes\": [\"ink\"]}}", "beta: -1 is not between 0 and 10")]
    [InlineData("POST", "/api/generate", "{\"prompt\": \"a cat\", \"liked\": [\"abc\"], \"preference\": {\"likes\": [\"ink\"]}}", "liked[0]: no image with id 'abc'")]
    public async Task BadRequestsAreRefusedBeforeAnythingQueues(string method, string url, string json, string message)
    {
        using StudioFactory studio = Studio(generator: true, extractor: true);
        var client = new StudioClient(studio.CreateClient());
        string[] ids = await client.UploadOk(("a.png", Png));
        (HttpStatusCode status, JsonNode? body) = await client.Send(new HttpMethod(method), url, json.Replace("IMAGE", ids[0], StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(message, body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_workspace.Path, "preferences.json")));
        (_, JsonNode? state) = await client.Send(HttpMethod.Get, "/api/status");
        Assert.Equal(0, state!["waiting"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("PUT", "/api/preferences", "Origin", "http://evil.example", 403, "a request from another site (http://evil.example) may not change the studio")]
    [InlineData("PUT", "/api/preferences", "Sec-Fetch-Site", "cross-site", 403, "may not change the studio")]
    [InlineData("GET", "/api/images", "Host", "rebound.example", 403, "answers requests for localhost only, not for 'rebound.example'")]
    [InlineData("PUT", "/api/preferences", "Content-Type", "text/plain", 415, "Content-Type: application/json")]
    [InlineData("PUT", "/api/preferences", "Origin", "http://localhost", 200, null)]
    public async Task OtherSitesCannotChangeTheStudio(string method, string url, string header, string value, int expected, string? message)
    {
        using StudioFactory studio = Studio();
        HttpClient http = studio.CreateClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (method == "PUT")
        {
            request.Content = new StringContent("""{"likes": ["ink"]}""", System.Text.Encoding.UTF8, header == "Content-Type" ? value : "application/json");
        }

        if (header != "Content-Type")
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(expected, (int)response.StatusCode);
        if (message is not null)
        {
            Assert.Contains(message, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(_workspace.Path, "preferences.json")));
        }
    }

    [Fact]
    public async Task WithoutTheModelsExtractionAndGenerationSaySo()
    {
        using StudioFactory studio = Studio();
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Post, "/api/extract", "{\"items\": []}");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("--extractor", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        (status, body) = await client.Send(HttpMethod.Post, "/api/generate", "{\"prompt\": \"a cat\"}");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("--model", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PreferencesAreTheFileTheCliReads()
    {
        using StudioFactory studio = Studio();
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Put, "/api/preferences", Json(new { likes = new[] { "watercolor", " pastel tones " }, dislikes = new[] { "neon" } }));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"likes":["watercolor","pastel tones"],"dislikes":["neon"]}""", body!.ToJsonString());
        VisualPreference saved = VisualPreference.Load(Path.Combine(_workspace.Path, "preferences.json"));
        Assert.Equal(["watercolor", "pastel tones"], saved.Likes);
        Assert.Equal(["neon"], saved.Dislikes);
        Assert.Equal(File.ReadAllText(Path.Combine(_workspace.Path, "preferences.json")), await client.Http.GetStringAsync("/api/preferences/file"));
        (_, body) = await client.Send(HttpMethod.Get, "/api/preferences");
        Assert.Equal("""{"likes":["watercolor","pastel tones"],"dislikes":["neon"]}""", body!.ToJsonString());
    }

    [Fact]
    public async Task ExtractionStreamsTheExtractorsTextAndSavesWhatItFound()
    {
        using StudioFactory studio = Studio(extractor: true);
        var client = new StudioClient(studio.CreateClient());
        string[] ids = await client.UploadOk(("a.png", Png), ("b.png", OtherPng));
        var events = await client.Run("/api/extract", Json(new { items = new[] { new { image = ids[0], comment = "I love the soft colours." }, new { image = ids[1], comment = "Too harsh." } } }));
        Assert.Equal(["queued", "state"], events.Take(2).Select(e => e.Type));
        // The extractor's load in whole percents, from 0 up to done, before any text.
        int[] loaded = [.. events.TakeWhile(e => e.Type != "text").Where(e => e.Type == "progress" && e.Data["stage"]!.GetValue<string>() == "load")
            .Select(e => (int)(100L * e.Data["step"]!.GetValue<int>() / e.Data["total"]!.GetValue<int>()))];
        Assert.True(loaded.Length > 2, string.Join(",", loaded));
        Assert.Equal(0, loaded[0]);
        Assert.Equal(100, loaded[^1]);
        Assert.Equal(loaded.Order().Distinct(), loaded);
        string streamed = string.Concat(events.Where(e => e.Type == "text").Select(e => e.Data["text"]!.GetValue<string>()));
        Assert.Equal(ScriptedExtractor.Script, streamed.Trim());
        JsonObject result = Last(events, "result");
        Assert.Equal("""["watercolor","pastel tones"]""", result["likes"]!.ToJsonString());
        Assert.Equal("""["neon"]""", result["dislikes"]!.ToJsonString());
        Assert.Equal("done", Last(events, "state")["state"]!.GetValue<string>());
        VisualPreference saved = VisualPreference.Load(Path.Combine(_workspace.Path, "preferences.json"));
        Assert.Equal(["watercolor", "pastel tones"], saved.Likes);
        string file = File.ReadAllText(Path.Combine(_workspace.Path, "preferences.json"));
        Assert.Contains("I love the soft colours.", file, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenerationGivesThePersonalizedAndThePlainImageWithPreviewsAndScores()
    {
        using StudioFactory studio = Studio(generator: true, metric: true);
        var client = new StudioClient(studio.CreateClient());
        string[] ids = await client.UploadOk(("liked.png", Png), ("disliked.png", OtherPng));
        var events = await client.Run("/api/generate", Json(new
        {
            prompt = "a lighthouse", seed = 7, steps = 3, beta = 0.85, guidance = 5,
            preference = new { likes = new[] { "watercolor" }, dislikes = new[] { "neon" } }, liked = new[] { ids[0] }, disliked = new[] { ids[1] },
        }));
        Assert.Equal("done", Last(events, "state")["state"]!.GetValue<string>());
        foreach (string image in new[] { "personalized", "plain" })
        {
            int[] steps = [.. events.Where(e => e.Type == "progress" && e.Data["image"]!.GetValue<string>() == image && e.Data["stage"]!.GetValue<string>() == "base")
                .Select(e => e.Data["step"]!.GetValue<int>())];
            Assert.Equal([0, 1, 2, 3], steps);
            // One preview per step; replayed after the fact, only the latest still carries its picture.
            JsonObject[] previews = [.. events.Where(e => e.Type == "preview" && e.Data["image"]!.GetValue<string>() == image).Select(e => e.Data)];
            Assert.Equal([1, 2, 3], previews.Select(p => p["step"]!.GetValue<int>()));
        }

        // A live reader gets every picture; a late one at least the last. Each is the latent-resolution preview.
        JsonObject last = Last(events, "preview");
        Assert.Equal(("plain", 3), (last["image"]!.GetValue<string>(), last["step"]!.GetValue<int>()));
        Assert.NotNull(last["png"]);
        Assert.All(events.Where(e => e.Type == "preview" && e.Data["png"] is not null), e =>
            Assert.Equal(PipelineGeometry.Read(models.Pipelines.Sdxl).DefaultSize / 8,
                ImageFile.Decode(Convert.FromBase64String(e.Data["png"]!.GetValue<string>()["data:image/png;base64,".Length..])).Width));

        JsonObject result = Last(events, "result");
        Assert.Equal(1, result["pairs"]!.GetValue<int>());
        RgbImage[] made = new RgbImage[2];
        for (int i = 0; i < 2; i++)
        {
            JsonNode side = result[i == 0 ? "personalized" : "plain"]!;
            Assert.InRange(side["score"]!.GetValue<double>(), 0.0, 1.0);
            made[i] = ImageFile.Decode(await client.Http.GetByteArrayAsync(side["image"]!["url"]!.GetValue<string>()));
        }

        // The plain image is the model's own image for the prompt and seed, the personalized one differs from it.
        using IBackend cpu = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(models.Pipelines.Sdxl, cpu);
        RgbImage direct = pipeline.Generate(new GenerationRequest { Prompt = "a lighthouse", Seed = 7, Steps = 3, Guidance = 5 }).Images[0];
        Assert.Equal(direct.Pixels, made[1].Pixels);
        Assert.NotEqual(made[0].Pixels, made[1].Pixels);
    }

    [Fact]
    public async Task JobsRunOneAtATimeShowTheirPlaceAndCancel()
    {
        using StudioFactory studio = Studio(generator: true);
        var client = new StudioClient(studio.CreateClient());
        string body = Json(new { prompt = "a lighthouse", steps = 150, preference = new { likes = new[] { "ink" } } });
        string[] ids = new string[3];
        for (int i = 0; i < 3; i++)
        {
            (_, JsonNode? job) = await client.Send(HttpMethod.Post, "/api/generate", body);
            ids[i] = job!["id"]!.GetValue<string>();
            if (i > 0)
            {
                Assert.Equal(i, job["position"]!.GetValue<int>());
            }
        }

        // A waiting job cancelled ends at once, and the one behind it moves up.
        (HttpStatusCode status, JsonNode? second) = await client.Send(HttpMethod.Post, $"/api/jobs/{ids[1]}/cancel");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("cancelled", second!["state"]!.GetValue<string>());
        (_, JsonNode? third) = await client.Send(HttpMethod.Get, $"/api/jobs/{ids[2]}");
        Assert.Equal(1, third!["position"]!.GetValue<int>());

        await client.Send(HttpMethod.Post, $"/api/jobs/{ids[2]}/cancel");
        await client.Send(HttpMethod.Post, $"/api/jobs/{ids[0]}/cancel");
        var firstEvents = await client.Events(ids[0]);
        Assert.Equal("cancelled", Last(firstEvents, "state")["state"]!.GetValue<string>());
        Assert.DoesNotContain(firstEvents, e => e.Type == "result");
        Assert.Equal(["queued", "state"], (await client.Events(ids[1])).Select(e => e.Type));
        Assert.Equal([2, 1], (await client.Events(ids[2])).Where(e => e.Type == "queued").Select(e => e.Data["position"]!.GetValue<int>()));
    }

    public void Dispose() => _workspace.Dispose();

    [Fact]
    public async Task ScoringRanksQueryImagesAgainstTheMarkedOnes()
    {
        using StudioFactory studio = Studio(metric: true);
        var client = new StudioClient(studio.CreateClient());
        string[] ids = await client.UploadOk(("liked.png", Png), ("disliked.png", OtherPng));
        var events = await client.Run("/api/score", Json(new { liked = new[] { ids[0] }, disliked = new[] { ids[1] }, query = ids }));
        Assert.Equal("done", Last(events, "state")["state"]!.GetValue<string>());
        JsonArray scores = Last(events, "result")["scores"]!.AsArray();
        Assert.Equal(ids, scores.Select(s => s!["image"]!.GetValue<string>()));
        Assert.All(scores, s => Assert.InRange(s!["score"]!.GetValue<double>(), 0, 1));
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Post, "/api/score", Json(new { liked = new[] { ids[0] }, query = ids }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("liked, disliked: name at least one liked and one disliked image", body!["error"]!.GetValue<string>());
        using StudioFactory withoutMetric = Studio();
        (status, _) = await new StudioClient(withoutMetric.CreateClient()).Send(HttpMethod.Post, "/api/score", Json(new { liked = ids, disliked = ids, query = ids }));
        Assert.Equal(HttpStatusCode.Conflict, status);
    }

    private StudioFactory Studio(bool generator = false, bool extractor = false, bool metric = false, long maxUploadBytes = 20L << 20) =>
        StudioFactory.Create(_workspace.Path, generator ? models.Pipelines.Sdxl : null, extractor ? models.Extractor : null, metric, maxUploadBytes);
}

using System.Net;
using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using static Viper.Engine.Tests.Support.StudioClient;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// The studio under a careless or hostile client (in-process): limits named as they are hit, no server path or CLR type
/// name in any message, a bounded queue, and positions that say what the README says.
/// </summary>
public sealed class StudioHardeningTests(StudioModels models) : IClassFixture<StudioModels>, IDisposable
{
    private static readonly byte[] Png = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "images", "rgba_260x260.png"));
    private readonly TempFolder _workspace = new();

    [Fact]
    public async Task AnUploadOverTheFileCountIsToldSo()
    {
        using StudioFactory studio = StudioFactory.Create(_workspace.Path);
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? body) = await client.Upload([.. Enumerable.Range(0, 65).Select(i => ($"{i}.png", Png))]);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("an upload holds at most 64 files; send the rest in another", body!["error"]!.GetValue<string>());
        Assert.False(Directory.Exists(Path.Combine(_workspace.Path, "images")) && Directory.EnumerateFiles(Path.Combine(_workspace.Path, "images")).Any());
    }

    [Fact]
    public async Task NoMessageNamesAServerPathOrAClrType()
    {
        using StudioFactory studio = StudioFactory.Create(_workspace.Path);
        var client = new StudioClient(studio.CreateClient());
        string id = (await client.UploadOk(("a.png", Png)))[0];

        // An image file deleted from disk: 404, not a 500 naming the file.
        File.Delete(Path.Combine(_workspace.Path, "images", id + ".png"));
        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Get, $"/api/images/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertClean(body);

        // A corrupt preferences.json: named as the workspace file it is.
        File.WriteAllText(Path.Combine(_workspace.Path, "preferences.json"), "{ not json");
        (status, body) = await client.Send(HttpMethod.Get, "/api/preferences");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("preferences.json", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertClean(body);

        // JSON of the wrong shape: the field and the problem.
        (status, body) = await client.Send(HttpMethod.Put, "/api/preferences", """{"likes": "ink"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("likes: the value has the wrong type", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertClean(body);
        (status, body) = await client.Send(HttpMethod.Put, "/api/preferences", "[1, 2]");
        Assert.StartsWith("the request body must be a JSON object", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertClean(body);
    }

    [Fact]
    public async Task AFailedJobsErrorNamesNoServerPath()
    {
        string generator = models.Pipelines.Copy(models.Pipelines.Sdxl, "tiny-sdxl-broken-" + Guid.NewGuid().ToString("N")[..8]);
        using StudioFactory studio = StudioFactory.Create(_workspace.Path, generator);
        var client = new StudioClient(studio.CreateClient());
        foreach (string weights in Directory.GetFiles(Path.Combine(generator, "unet"), "*.safetensors"))
        {
            File.WriteAllBytes(weights, [1, 2, 3]); // broken after the studio has read the configs
        }

        (_, JsonNode? queued) = await client.Send(HttpMethod.Post, "/api/generate", Json(new { prompt = "a lighthouse", steps = 2, preference = new { likes = new[] { "ink" } } }));
        string id = queued!["id"]!.GetValue<string>();
        string error = Last(await client.Events(id), "error")["message"]!.GetValue<string>();
        (_, JsonNode? job) = await client.Send(HttpMethod.Get, $"/api/jobs/{id}");
        Assert.Equal(error, job!["error"]!.GetValue<string>());
        Assert.Contains("diffusion_pytorch_model", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Path.GetDirectoryName(generator)!, error, StringComparison.Ordinal);
        Assert.DoesNotContain("/tmp", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheQueueIsBoundedAndPositionsEndAtZero()
    {
        using StudioFactory studio = StudioFactory.Create(_workspace.Path, models.Pipelines.Sdxl);
        var client = new StudioClient(studio.CreateClient());
        string body = Json(new { prompt = "a lighthouse", steps = 150, preference = new { likes = new[] { "ink" } } });
        var ids = new List<string>();
        HttpStatusCode status;
        JsonNode? answer;
        while (true)
        {
            (status, answer) = await client.Send(HttpMethod.Post, "/api/generate", body);
            if (status != HttpStatusCode.Accepted)
            {
                break;
            }

            ids.Add(answer!["id"]!.GetValue<string>());
            Assert.True(ids.Count <= 40, "the queue accepted more than 40 jobs");
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("at most 32", answer!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(ids.Count, 32, 33); // 32 waiting, and the first one if it had started running already

        // The running job is at position 0, as the README says.
        await WaitFor(async () => (await client.Send(HttpMethod.Get, $"/api/jobs/{ids[0]}")).Body!["state"]!.GetValue<string>() == "running");
        Assert.Equal(0, (await client.Send(HttpMethod.Get, $"/api/jobs/{ids[0]}")).Body!["position"]!.GetValue<int>());
        foreach (string id in Enumerable.Reverse(ids))
        {
            await client.Send(HttpMethod.Post, $"/api/jobs/{id}/cancel");
        }

        foreach (string id in ids)
        {
            Assert.Equal("cancelled", Last(await client.Events(id), "state")["state"]!.GetValue<string>());
            Assert.Equal(0, (await client.Send(HttpMethod.Get, $"/api/jobs/{id}")).Body!["position"]!.GetValue<int>());
        }
    }

    /// <summary>A studio image carries the parameters record `viper generate` writes, naming the model by its folder name.</summary>
    [Fact]
    public async Task GeneratedImagesCarryTheParametersRecord()
    {
        using StudioFactory studio = StudioFactory.Create(_workspace.Path, models.Pipelines.Sdxl);
        var client = new StudioClient(studio.CreateClient());
        var events = await client.Run("/api/generate", Json(new { prompt = "a lighthouse", seed = 5, steps = 2, beta = 0.5, guidance = 4, preference = new { likes = new[] { "ink" }, dislikes = new[] { "neon" } } }));
        JsonObject result = Last(events, "result");
        foreach (string name in new[] { "personalized", "plain" })
        {
            string id = result[name]!["image"]!["id"]!.GetValue<string>();
            string file = Path.Combine(_workspace.Path, $"{name}.png");
            await File.WriteAllBytesAsync(file, await client.Http.GetByteArrayAsync($"/api/images/{id}"));
            string parameters = Cli.GenerateCliTests.PngText(file);
            Assert.Contains("parameters=prompt: a lighthouse", parameters, StringComparison.Ordinal);
            Assert.Contains("guidance: 4, steps: 2, scheduler: euler, seed: 5", parameters, StringComparison.Ordinal);
            Assert.Equal(name == "personalized", parameters.Contains("likes: ink", StringComparison.Ordinal));
            Assert.Contains("model: tiny-sdxl\n", parameters, StringComparison.Ordinal);
            Assert.Contains("Software=Viper.Engine", parameters, StringComparison.Ordinal);
            Assert.DoesNotContain(models.Pipelines.Sdxl, parameters, StringComparison.Ordinal);
        }
    }

    public void Dispose() => _workspace.Dispose();

    private void AssertClean(JsonNode? body)
    {
        string error = body!["error"]!.GetValue<string>();
        Assert.DoesNotContain(_workspace.Path, error, StringComparison.Ordinal);
        Assert.DoesNotContain("/tmp", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Viper.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    private static async Task WaitFor(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 600 && !await condition(); i++)
        {
            await Task.Delay(50);
        }
    }
}

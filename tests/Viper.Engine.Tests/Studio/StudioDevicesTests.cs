using System.Net;
using System.Text.Json.Nodes;
using Viper.Engine.Tests.Support;
using Viper.Runtime;
using Viper.Studio;
using static Viper.Engine.Tests.Support.StudioClient;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// The studio over two emulated devices (`--place extractor=cuda-emulated:1`): the extractor runs on one and the
/// generator on the other, each device has its own job worker, and the status lists what each device holds.
/// </summary>
public sealed class StudioDevicesTests(StudioModels models) : IClassFixture<StudioModels>, IDisposable
{
    private static readonly byte[] Png = File.ReadAllBytes(Path.Combine(RepoPaths.Root, "tests", "fixtures", "images", "rgba_260x260.png"));
    private readonly TempFolder _workspace = new();

    [Fact]
    public async Task JobsForTwoDevicesRunSideBySideAndJobsForOneWaitTheirTurn()
    {
        using StudioFactory studio = StudioFactory.Create(new StudioOptions
        {
            Workspace = _workspace.Path,
            Generator = models.Pipelines.Sd,
            Extractor = models.Extractor,
            ExtractorAdapter = Path.Combine(models.Extractor, "adapter"),
            ExtractorOptions = new() { MaxNewTokens = 64, RepetitionPenalty = 0.99f },
            Device = new DeviceName("cuda-emulated", 0),
            Placement = new Dictionary<string, DeviceName> { ["extractor"] = new("cuda-emulated", 1) },
            Backend = device => TwoDevices.Open(device),
        });
        var client = new StudioClient(studio.CreateClient());
        string[] ids = await client.UploadOk(("a.png", Png));
        string generation = Json(new { prompt = "a lighthouse", seed = 7, steps = 2, preference = new { likes = new[] { "watercolor" }, dislikes = new[] { "neon" } } });
        string first = await Enqueue(client, "/api/generate", generation);
        string second = await Enqueue(client, "/api/generate", generation);
        string extraction = await Enqueue(client, "/api/extract", Json(new { items = new[] { new { image = ids[0], comment = "I love the soft colours." } } }));

        var firstEvents = await client.Events(first);
        var secondEvents = await client.Events(second);
        var extractionEvents = await client.Events(extraction);
        Assert.Equal(0, FirstPosition(firstEvents));
        Assert.Equal(1, FirstPosition(secondEvents)); // behind the first, on the generator's device
        Assert.Equal(0, FirstPosition(extractionEvents)); // its device was free: not behind either generation
        Assert.All(new[] { firstEvents, secondEvents, extractionEvents }, e => Assert.Equal("done", Last(e, "state")["state"]!.GetValue<string>()));
        Assert.Equal("""["watercolor","pastel tones"]""", Last(extractionEvents, "result")["likes"]!.ToJsonString());
        Assert.Equal(Last(firstEvents, "result")["personalized"]!["image"]!["id"]!.GetValue<string>(),
            Last(secondEvents, "result")["personalized"]!["image"]!["id"]!.GetValue<string>()); // same request, same pixels

        (HttpStatusCode status, JsonNode? body) = await client.Send(HttpMethod.Get, "/api/status");
        Assert.Equal(HttpStatusCode.OK, status);
        JsonArray devices = body!["devices"]!.AsArray();
        Assert.Equal(["cuda-emulated:0", "cuda-emulated:1"], devices.Select(d => d!["device"]!.GetValue<string>()));
        Assert.Equal("""["generator","metric"]""", devices[0]!["kinds"]!.ToJsonString());
        Assert.Equal("generator", devices[0]!["resident"]![0]!["kind"]!.GetValue<string>());
        Assert.Equal("extractor", devices[1]!["resident"]![0]!["kind"]!.GetValue<string>());
        Assert.Equal(1, devices[0]!["loads"]!.GetValue<int>()); // the second generation found the generator resident
        Assert.True(devices[0]!["resident"]![0]!["runBytes"]!.GetValue<long>() > 0);
    }

    public void Dispose() => _workspace.Dispose();

    private static async Task<string> Enqueue(StudioClient client, string url, string json)
    {
        (HttpStatusCode status, JsonNode? job) = await client.Send(HttpMethod.Post, url, json);
        Assert.True(status == HttpStatusCode.Accepted, job?.ToJsonString());
        return job!["id"]!.GetValue<string>();
    }

    private static int FirstPosition(IReadOnlyList<(string Type, JsonObject Data)> events) =>
        events.First(e => e.Type == "queued").Data["position"]!.GetValue<int>();
}

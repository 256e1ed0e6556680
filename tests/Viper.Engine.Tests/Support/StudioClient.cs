using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Viper.Engine.Tests.Support;

/// <summary>Calls on the studio's API as the page makes them, with the answers as JSON.</summary>
public sealed class StudioClient(HttpClient http)
{
    public HttpClient Http { get; } = http;

    public async Task<(HttpStatusCode Status, JsonNode? Body)> Send(HttpMethod method, string url, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<(HttpStatusCode Status, JsonNode? Body)> Upload(params (string Name, byte[] Bytes)[] files) => Upload(form =>
    {
        foreach ((string name, byte[] bytes) in files)
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(content, "files", name);
        }
    });

    public async Task<(HttpStatusCode Status, JsonNode? Body)> Upload(Action<MultipartFormDataContent> fill)
    {
        using var form = new MultipartFormDataContent();
        fill(form);
        using HttpResponseMessage response = await Http.PostAsync("/api/images", form);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
    }

    /// <summary>Uploads the files and returns their ids.</summary>
    public async Task<string[]> UploadOk(params (string Name, byte[] Bytes)[] files)
    {
        (HttpStatusCode status, JsonNode? body) = await Upload(files);
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
        return [.. body!["images"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];
    }

    /// <summary>Queues a job (202 expected) and reads its whole event stream until it ends.</summary>
    public async Task<IReadOnlyList<(string Type, JsonObject Data)>> Run(string url, string json)
    {
        (HttpStatusCode status, JsonNode? job) = await Send(HttpMethod.Post, url, json);
        Assert.True(status == HttpStatusCode.Accepted, job?.ToJsonString());
        return await Events(job!["id"]!.GetValue<string>());
    }

    public async Task<IReadOnlyList<(string Type, JsonObject Data)>> Events(string id) => [.. (await EventsWithIds(id)).Select(e => (e.Type, e.Data))];

    /// <summary>The job's server-sent events with their ids, from the start or after <paramref name="lastEventId"/> (as a reconnecting page asks).</summary>
    public async Task<IReadOnlyList<(string Id, string Type, JsonObject Data)>> EventsWithIds(string id, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/jobs/{id}/events");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using HttpResponseMessage response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return ParseEvents(await response.Content.ReadAsStringAsync());
    }

    /// <summary>A server-sent event stream's events: "id: …", "event: …", "data: …" lines, blank-line separated.</summary>
    public static IReadOnlyList<(string Id, string Type, JsonObject Data)> ParseEvents(string stream) =>
        [.. stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(block =>
        {
            Dictionary<string, string> fields = block.Split('\n').Select(l => l.Split(": ", 2)).ToDictionary(f => f[0], f => f[1]);
            return (fields["id"], fields["event"], JsonNode.Parse(fields["data"])!.AsObject());
        })];

    public static JsonObject Last(IReadOnlyList<(string Type, JsonObject Data)> events, string type) =>
        events.LastOrDefault(e => e.Type == type).Data ?? throw new Xunit.Sdk.XunitException($"no '{type}' event in: {string.Join(", ", events.Select(e => e.Type))}");

    public static string Json(object value) => JsonSerializer.Serialize(value, new JsonSerializerOptions(JsonSerializerDefaults.Web));
}

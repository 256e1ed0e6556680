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

    public async Task<IReadOnlyList<(string Type, JsonObject Data)>> Events(string id)
    {
        using HttpResponseMessage response = await Http.GetAsync($"/api/jobs/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string stream = await response.Content.ReadAsStringAsync();
        return [.. stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(block =>
        {
            string[] lines = block.Split('\n');
            return (lines[0]["event: ".Length..], JsonNode.Parse(lines[1]["data: ".Length..])!.AsObject());
        })];
    }

    public static JsonObject Last(IReadOnlyList<(string Type, JsonObject Data)> events, string type) =>
        events.LastOrDefault(e => e.Type == type).Data ?? throw new Xunit.Sdk.XunitException($"no '{type}' event in: {string.Join(", ", events.Select(e => e.Type))}");

    public static string Json(object value) => JsonSerializer.Serialize(value, new JsonSerializerOptions(JsonSerializerDefaults.Web));
}

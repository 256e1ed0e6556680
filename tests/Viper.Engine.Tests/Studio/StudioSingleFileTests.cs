using System.Net;
using System.Text.Json.Nodes;
using Viper.Engine.Tests.SingleFile;
using Viper.Engine.Tests.Support;
using Viper.Imaging;
using Viper.Pipelines;
using Viper.Studio;

namespace Viper.Engine.Tests.Studio;

/// <summary>
/// The studio on a single-file generator with its config folder, an embedding and a LoRA folder: the page lists the
/// LoRAs by name, a request picks one with a weight (the plain image is diffusers' LoRA merge at that weight, within 1
/// level), the next request without it is the base model again, and nothing the page sees names a server path.
/// </summary>
public sealed class StudioSingleFileTests : IDisposable
{
    private readonly TempFolder _workspace = new();
    private readonly TempFolder _loras = new();

    public StudioSingleFileTests() => File.Copy(Path.Combine(SingleFileReferenceTests.Refs, "lora_kohya.safetensors"), Path.Combine(_loras.Path, "woodcut.safetensors"));

    public void Dispose()
    {
        _workspace.Dispose();
        _loras.Dispose();
    }

    [Fact]
    public async Task PicksLorasByNameAndSwapsThemPerRequest()
    {
        using StudioFactory studio = StudioFactory.Create(new StudioOptions
        {
            Workspace = _workspace.Path, Generator = Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors"), GeneratorConfig = SingleFileReferenceTests.ConfigFolder,
            Embeddings = [new EmbeddingToken(Path.Combine(SingleFileReferenceTests.Refs, "fox-style.safetensors"))], LoraFolder = _loras.Path,
            Backend = _ => TestBackends.Create("cpu"),
        });
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, JsonNode? listed) = await client.Send(HttpMethod.Get, "/api/loras");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"loras":["woodcut"]}""", listed!.ToJsonString());

        (status, JsonNode? refused) = await client.Send(HttpMethod.Post, "/api/generate", StudioClient.Json(new
        {
            prompt = "a fox", preference = new { likes = new[] { "ink" } }, loras = new[] { new { name = "../woodcut", weight = 1 } },
        }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("loras[0].name: '../woodcut' is not one of the studio's LoRAs", refused!["error"]!.GetValue<string>(), StringComparison.Ordinal);

        RgbImage withLora = await Plain(client, new[] { new { name = "woodcut", weight = 0.6 } }, out string parameters);
        using (var expected = new RefTensors(Path.Combine(SingleFileReferenceTests.Refs, "expected.safetensors")))
        {
            byte[] want = expected.Bytes("lora_0.6_image_uint8_hwc");
            Assert.True(want.Zip(withLora.Pixels, (a, b) => Math.Abs(a - b)).Max() <= 1);
            Assert.True((await Plain(client, Array.Empty<object>(), out _)).Pixels.Zip(expected.Bytes("single_file_image_uint8_hwc"), (a, b) => Math.Abs(a - b)).Max() <= 1);
        }

        Assert.Contains("<lora:woodcut:0.6>", parameters, StringComparison.Ordinal);
        Assert.Contains("TI hashes: \"fox-style: ", parameters, StringComparison.Ordinal);
        Assert.False(parameters.Contains(Path.GetDirectoryName(SingleFileReferenceTests.Refs)!, StringComparison.Ordinal) || parameters.Contains(_loras.Path, StringComparison.Ordinal), parameters);
    }

    private Task<RgbImage> Plain(StudioClient client, object loras, out string parameters)
    {
        var events = client.Run("/api/generate", StudioClient.Json(new
        {
            prompt = "a red fox in deep snow, woodcut print", seed = 7, steps = 4, guidance = 7.5, preference = new { likes = new[] { "ink" } }, loras,
        })).GetAwaiter().GetResult();
        Assert.Equal("done", StudioClient.Last(events, "state")["state"]!.GetValue<string>());
        string url = StudioClient.Last(events, "result")["plain"]!["image"]!["url"]!.GetValue<string>();
        byte[] png = client.Http.GetByteArrayAsync(url).GetAwaiter().GetResult();
        string path = Path.Combine(_workspace.Path, $"download-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(path, png);
        parameters = Cli.GenerateCliTests.PngText(path);
        File.Delete(path);
        return Task.FromResult(ImageFile.Decode(png));
    }
}

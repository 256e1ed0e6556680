using System.Net;
using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Pipelines;

/// <summary>
/// One set of limits: the C# API, `viper generate` and the studio refuse the same out-of-range values (each in its own
/// words) and accept the same edges, because all three read <see cref="GenerationLimits"/>.
/// </summary>
public sealed class GenerationLimitsTests(StudioModels models) : IClassFixture<StudioModels>
{
    public static TheoryData<string, string, object> OutOfRange => new()
    {
        { "Steps", "steps", GenerationLimits.Steps.Max + 1 },
        { "Guidance", "guidance", GenerationLimits.Guidance.Max + 0.5f },
        { "BetaPositive", "beta", GenerationLimits.Beta.Max + 1f },
        { "Width", "width", GenerationLimits.Size.Max + 64 },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task TheApiTheCliAndTheStudioRefuseTheSameValue(string property, string option, object value)
    {
        string text = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;
        using IBackend cpu = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(models.Pipelines.Sdxl, cpu);
        var request = new GenerationRequest { Prompt = "a cat" };
        request = property switch
        {
            "Steps" => request with { Steps = (int)value },
            "Guidance" => request with { Guidance = (float)value },
            "BetaPositive" => request with { BetaPositive = (float)value },
            _ => request with { Width = (int)value },
        };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate(request));
        Assert.Equal(property, e.ParamName);

        using var work = new TempFolder();
        string cliOption = option == "beta" ? "--beta" : $"--{option}";
        CliResult r = CliRunner.Run(work.Path, "generate", "--model", models.Pipelines.Sdxl, "--prompt", "a cat", cliOption, text, "--out", "x.png");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(cliOption, r.Stderr, StringComparison.Ordinal);

        using StudioFactory studio = StudioFactory.Create(work.Path, models.Pipelines.Sdxl);
        var client = new StudioClient(studio.CreateClient());
        (HttpStatusCode status, System.Text.Json.Nodes.JsonNode? body) = await client.Send(HttpMethod.Post, "/api/generate",
            "{\"prompt\": \"a cat\", \"" + option + "\": " + text + ", \"preference\": {\"likes\": [\"ink\"]}}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith($"{option}: {text} is not", body!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}

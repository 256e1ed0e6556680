using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using Viper.Studio;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// The studio in-process (WebApplicationFactory over <see cref="StudioHost"/>'s builder, with a test server in place of
/// Kestrel), on the CPU backend with the given models and a fresh workspace.
/// </summary>
public sealed class StudioFactory(StudioOptions options) : WebApplicationFactory<StudioFactory>
{
    public StudioOptions Options => options;

    /// <summary>A studio on tiny models: the tiny SDXL, the scripted extractor and the refs' tiny metric (any may be left out).</summary>
    public static StudioFactory Create(string workspace, string? generator = null, string? extractor = null, bool metric = false, long maxUploadBytes = 20L << 20) =>
        new(new StudioOptions
        {
            Workspace = workspace,
            Generator = generator,
            Extractor = extractor,
            ExtractorAdapter = extractor is null ? null : Path.Combine(extractor, "adapter"),
            ExtractorOptions = new() { MaxNewTokens = 64, RepetitionPenalty = 0.99f },
            Metric = metric ? Idefics2Refs.Folder : null,
            MetricAdapter = metric ? Path.Combine(Idefics2Refs.Folder, "lora_adapter") : null,
            Backend = _ => TestBackends.Create("cpu"),
            MaxUploadBytes = maxUploadBytes,
        });

    /// <summary>A studio with <paramref name="options"/> as given (for settings the shorthand above does not cover).</summary>
    public static StudioFactory Create(StudioOptions options) => new(options);

    protected override IHostBuilder CreateHostBuilder() => StudioHost.CreateBuilder(options);

    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseContentRoot(options.Workspace);
}

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Viper.Studio.Api;
using Viper.Studio.Jobs;
using Viper.Studio.Library;
using Viper.Studio.Work;

namespace Viper.Studio;

/// <summary>The studio's web host: Kestrel on <see cref="StudioOptions.Url"/>, the API, the job worker and the models.</summary>
public static class StudioHost
{
    /// <param name="jobs">Where jobs run instead of this process (`viper serve`: <see cref="Distributed.RedisJobService"/>); null runs them here.</param>
    public static IHostBuilder CreateBuilder(StudioOptions options, Func<IServiceProvider, IJobService>? jobs = null)
    {
        Directory.CreateDirectory(options.Workspace);
        return new HostBuilder()
            // The host's own "failed to start" entry carries the whole stack trace; the caller reports the error itself
            // (a busy --listen port is one clean line from the CLI).
            .ConfigureLogging(logging => logging.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning)
                .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None))
            .ConfigureServices(services => services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5)))
            .ConfigureWebHost(web => web
                .UseKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = (16 * options.MaxUploadBytes) + (1 << 20))
                .UseUrls(options.Url)
                .ConfigureServices(services =>
                {
                    services.AddRouting();
                    services.Configure<FormOptions>(form =>
                    {
                        form.MultipartBodyLengthLimit = options.MaxUploadBytes; // per file: a huge one is cut off while it streams in
                        form.ValueCountLimit = MaxFilesPerUpload;
                    });
                    services.AddSingleton(options);
                    services.AddSingleton<ClientText>();
                    services.AddSingleton(_ => new ImageLibrary(options.Workspace));
                    services.AddSingleton<PreferenceStore>();
                    services.AddSingleton<StudioGeometry>();
                    services.AddSingleton<LoraLibrary>();
                    services.AddSingleton<ModelSlots>();
                    services.AddSingleton<JobRequests>();
                    if (jobs is null)
                    {
                        services.AddSingleton<JobQueue>();
                        services.AddHostedService(s => s.GetRequiredService<JobQueue>());
                        services.AddSingleton<IJobService, LocalJobService>();
                    }
                    else
                    {
                        services.AddSingleton(jobs);
                    }
                })
                .Configure(app =>
                {
                    app.UseMiddleware<ErrorHandling>();
                    app.UseMiddleware<LocalRequestsOnly>();
                    app.UseRouting();
                    app.UseEndpoints(StudioApi.Map);
                }));
    }

    /// <summary>The most form entries (files) one upload may hold.</summary>
    public const int MaxFilesPerUpload = 64;

    /// <summary>
    /// Before serving: reads the generator's configs (a broken one is an error now, not on the first request) and imports
    /// the starter folder into the library, so the page opens with the images; returns the images it could not import.
    /// </summary>
    public static IReadOnlyList<string> Prepare(IHost host)
    {
        StudioOptions options = host.Services.GetRequiredService<StudioOptions>();
        _ = host.Services.GetRequiredService<StudioGeometry>().Value;
        return options.StarterFolder is { } folder
            ? host.Services.GetRequiredService<ImageLibrary>().Import(folder, options.MaxUploadPixels)
            : [];
    }
}

using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using Viper.Cli.Terminal;
using Viper.Studio;
using Viper.Studio.Distributed;
using Viper.Studio.Work;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper serve --redis URL`: the studio's page and JSON API as a front end whose jobs go to the Redis queue for
/// `viper worker` processes (any number of front ends may run). It loads no model: it reads the generator's configs to
/// check sizes, and the workspace folder it shares with the workers holds the images. Credentials come from
/// VIPER_REDIS_USER / VIPER_REDIS_PASSWORD.
/// </summary>
internal static class ServeCommand
{
    private static readonly Option<int> MaxQueue = OptionKinds.Int("--max-queue", "Jobs that may wait or run at once across all front ends; one more is refused (429)", 32, 1, 100_000);

    public static Command Create()
    {
        var command = new Command("serve", "Serve the studio's page and API with its jobs on a Redis queue, run by `viper worker` processes. " + ExitCodes.Help)
        {
            WorkerCommand.Redis, MaxQueue, StudioCommand.Images, StudioCommand.Listen,
        };
        foreach (Option option in StudioCommand.ModelOptions)
        {
            command.Options.Add(option);
        }

        StudioCommand.Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken).GetAwaiter().GetResult())));
        return command;
    }

    private static async Task<int> Run(ParseResult r, CancellationToken cancellationToken)
    {
        ConfigurationOptions address = RedisAddress.Parse(r.GetValue(WorkerCommand.Redis)!);
        StudioOptions options = StudioCommand.ReadOptions(r) with { Url = StudioCommand.Url(r.GetValue(StudioCommand.Listen)!) };
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(address);
        var jobs = new RedisJobs(redis.GetDatabase());
        await jobs.EnsureGroupAsync();
        int maxQueue = r.GetValue(MaxQueue);
        using IHost host = StudioHost.CreateBuilder(options, s => new RedisJobService(jobs, s.GetRequiredService<JobRequests>(), maxQueue)).Build();
        return await StudioCommand.Serve(host, options, cancellationToken);
    }
}

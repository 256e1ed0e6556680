using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Viper.Cli.Terminal;
using Viper.Studio;
using Viper.Studio.Distributed;
using Viper.Studio.Library;
using Viper.Studio.Work;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper worker --redis URL`: a GPU (or CPU) worker behind Redis Streams. It takes the studio's extract and generate jobs
/// from the queue, one at a time, on the models the studio's options name (resident between jobs), and writes each job's
/// events, images and result back: images into the shared --workspace folder (every worker and front end mounts the
/// same one), everything else into Redis. Credentials come from VIPER_REDIS_USER / VIPER_REDIS_PASSWORD.
/// </summary>
internal static class WorkerCommand
{
    internal static readonly Option<string> Redis = new("--redis") { Description = "The queue: redis://host:port[/db] (rediss:// for TLS); the password goes in VIPER_REDIS_PASSWORD, never here", Required = true, HelpName = "url" };
    private static readonly Option<int> Visibility = OptionKinds.Int("--visibility-timeout", "Seconds a job another worker took may go without its heartbeat before this one takes it over", 60, 3, 86400);
    private static readonly Option<string?> Name = new("--name") { Description = "This worker's consumer name in the group (default: host-process id)", HelpName = "name" };

    /// <summary>Whether the command line runs a worker, which handles SIGTERM and SIGINT itself (see <see cref="Run"/>).</summary>
    public static bool Owns(ParseResult parsed) => parsed.CommandResult.Command.Name == "worker";

    public static Command Create()
    {
        var command = new Command("worker", "Take the studio's jobs from a Redis queue and run them on this machine's models, until stopped (SIGTERM finishes the running job). " + ExitCodes.Help)
        {
            Redis, Visibility, Name,
        };
        foreach (Option option in StudioCommand.ModelOptions)
        {
            command.Options.Add(option);
        }

        StudioCommand.Devices.AddTo(command);
        command.SetAction(result => CliErrors.Run(() => Run(result).GetAwaiter().GetResult()));
        return command;
    }

    // SIGTERM (what systemd and Kubernetes send) and SIGINT stop taking jobs; the running one finishes, then the process exits.
    private static async Task<int> Run(ParseResult r)
    {
        using var stop = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // no immediate exit: the loop ends after the running job
            stop.Cancel();
        }

        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop), interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        CancellationToken stopping = stop.Token;
        ConfigurationOptions address = RedisAddress.Parse(r.GetValue(Redis)!);
        StudioOptions options = StudioCommand.ReadOptions(r);
        string consumer = r.GetValue(Name) ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        using ILoggerFactory logging = LoggerFactory.Create(l => l.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(address);
        Directory.CreateDirectory(options.Workspace);
        using var models = new ModelSlots(options);
        var library = new ImageLibrary(options.Workspace);
        var requests = new JobRequests(options, library, models, new PreferenceStore(options), new StudioGeometry(options), new LoraLibrary(options));
        var worker = new RedisWorker(new RedisJobs(redis.GetDatabase()), requests, new ClientText(options), logging.CreateLogger("viper.worker"), consumer,
            TimeSpan.FromSeconds(r.GetValue(Visibility)));
        CliOutput.Line($"worker {consumer} on {string.Join(", ", options.Devices)}: taking jobs from {address.EndPoints[0]} (Ctrl+C or SIGTERM stops it after the running job)");
        await worker.RunAsync(stopping);
        CliOutput.Line($"worker {consumer}: stopped");
        return ExitCodes.Ok;
    }
}

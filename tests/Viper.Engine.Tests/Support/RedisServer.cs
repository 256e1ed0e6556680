using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// A real redis-server (Debian's, installed by tools/setup.sh) on a free loopback port with its files in a temporary
/// folder, append-only file on, so a restart keeps what was queued; stopped and removed with the fixture.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly TempFolder _dir = new();
    private Process? _process;

    public RedisServer()
    {
        Assert.True(File.Exists("/usr/bin/redis-server"), "redis-server is missing: tools/setup.sh installs it");
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        Start();
    }

    public int Port { get; }

    public string Url => $"redis://127.0.0.1:{Port}";

    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"127.0.0.1:{Port},abortConnect=false,allowAdmin=true");

    /// <summary>Stops the server as an operator would (SHUTDOWN, which syncs the append-only file) and starts it again on the same files.</summary>
    public void Restart()
    {
        using (ConnectionMultiplexer c = Connect())
        {
            try
            {
                c.GetServer($"127.0.0.1:{Port}").Shutdown(ShutdownMode.Always);
            }
            catch (RedisConnectionException)
            {
                // the server closes the connection as it goes
            }
        }

        Assert.True(_process!.WaitForExit(10_000), "redis-server did not stop");
        Start();
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
        _dir.Dispose();
    }

    private void Start()
    {
        var start = new ProcessStartInfo("/usr/bin/redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _dir.Path, "--appendonly", "yes", "--save", "", "--protected-mode", "yes" })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(10); Thread.Sleep(50))
        {
            try
            {
                using var client = new TcpClient("127.0.0.1", Port);
                return;
            }
            catch (SocketException)
            {
                Assert.False(_process.HasExited, "redis-server exited at start");
            }
        }

        throw new TimeoutException($"redis-server did not listen on {Port}");
    }
}

using Viper.Engine.Tests.Support;
using Viper.Studio.Distributed;

namespace Viper.Engine.Tests.Distributed;

/// <summary>--redis URLs: host, port, database and TLS from the URL; credentials only from the environment, never the command line.</summary>
public class RedisAddressTests
{
    [Fact]
    public void UrlsGiveHostPortDatabaseAndTls()
    {
        var options = RedisAddress.Parse("rediss://queue.internal:6380/2");
        Assert.Equal("queue.internal:6380", options.EndPoints[0].ToString()!.Replace("Unspecified/", "", StringComparison.Ordinal));
        Assert.Equal(2, options.DefaultDatabase);
        Assert.True(options.Ssl);
        Assert.Equal(6379, ((System.Net.DnsEndPoint)RedisAddress.Parse("redis://localhost").EndPoints[0]).Port);
    }

    [Theory]
    [InlineData("redis://user:secret@queue:6379", "the URL carries credentials; give them in VIPER_REDIS_USER and VIPER_REDIS_PASSWORD instead")]
    [InlineData("http://queue:6379", "expected redis://host:port[/db]")]
    [InlineData("redis://queue:6379/x", "'x' is not a database number")]
    public void BadUrlsAreRefusedByName(string url, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => RedisAddress.Parse(url)).Message, StringComparison.Ordinal);

    [Fact]
    public void TheWorkerRefusesCredentialsOnItsCommandLineBeforeConnecting()
    {
        using var work = new TempFolder();
        CliResult r = CliRunner.Run(work.Path, "worker", "--redis", "redis://viper:hunter2@127.0.0.1:1");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--redis: the URL carries credentials", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", r.Stderr, StringComparison.Ordinal);
    }
}

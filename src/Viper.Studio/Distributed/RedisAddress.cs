using StackExchange.Redis;

namespace Viper.Studio.Distributed;

/// <summary>
/// Where Redis is, from a <c>redis://host:port/db</c> (or <c>rediss://</c> for TLS) URL, and who to be there: the ACL user and
/// password come from VIPER_REDIS_USER and VIPER_REDIS_PASSWORD, never from the command line (where `ps` shows them to
/// every user of the machine) — a URL that carries them is refused.
/// </summary>
public static class RedisAddress
{
    public const string UserVariable = "VIPER_REDIS_USER", PasswordVariable = "VIPER_REDIS_PASSWORD";

    public static ConfigurationOptions Parse(string url, string what = "--redis")
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("redis" or "rediss") || uri.Host.Length == 0)
        {
            throw new ArgumentException($"{what} {url}: expected redis://host:port[/db] (or rediss:// for TLS)");
        }

        if (uri.UserInfo.Length > 0)
        {
            throw new ArgumentException($"{what}: the URL carries credentials; give them in {UserVariable} and {PasswordVariable} instead (a command line is visible to every user of the machine)");
        }

        int database = 0;
        string path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0 && (!int.TryParse(path, out database) || database < 0))
        {
            throw new ArgumentException($"{what} {url}: '{path}' is not a database number");
        }

        var options = new ConfigurationOptions
        {
            Ssl = uri.Scheme == "rediss", DefaultDatabase = database, AbortOnConnectFail = false, ConnectRetry = 5,
            User = Environment.GetEnvironmentVariable(UserVariable) is { Length: > 0 } user ? user : null,
            Password = Environment.GetEnvironmentVariable(PasswordVariable) is { Length: > 0 } password ? password : null,
        };
        options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        return options;
    }
}

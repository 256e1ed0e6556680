using System.Net;

namespace Viper.Studio.Api;

/// <summary>
/// Keeps other web sites out of a studio on the user's machine. A page from another origin can make the browser send
/// requests to 127.0.0.1, so: a request whose <c>Origin</c> (or <c>Sec-Fetch-Site: cross-site</c>) says it comes from
/// another site may read but not change anything (403); and while the studio listens on loopback only, a <c>Host</c>
/// other than localhost / a loopback address is refused (403), which defeats DNS rebinding (a foreign name resolved to
/// 127.0.0.1 to read the answers). JSON bodies must be declared as application/json, so a cross-site form cannot pose
/// as one (<see cref="ErrorHandling.ReadJson"/>).
/// </summary>
public sealed class LocalRequestsOnly(RequestDelegate next, StudioOptions options)
{
    private readonly bool _loopback = IsLoopback(new Uri(options.Url).Host);

    public Task InvokeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (_loopback && !IsLoopback(request.Host.Host))
        {
            return ErrorHandling.Write(context.Response, StatusCodes.Status403Forbidden,
                $"this studio answers requests for localhost only, not for '{request.Host.Host}'");
        }

        bool changes = !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method));
        if (changes && CrossSite(request) is { } origin)
        {
            return ErrorHandling.Write(context.Response, StatusCodes.Status403Forbidden, $"a request from another site ({origin}) may not change the studio");
        }

        return next(context);
    }

    private static string? CrossSite(HttpRequest request)
    {
        if (request.Headers.Origin.ToString() is { Length: > 0 } origin
            && (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || !string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            return origin;
        }

        return request.Headers["Sec-Fetch-Site"].ToString() == "cross-site" ? "Sec-Fetch-Site: cross-site" : null;
    }

    /// <summary>True for localhost and loopback addresses (IPv4, IPv6 with or without brackets).</summary>
    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? ip) && IPAddress.IsLoopback(ip));
}

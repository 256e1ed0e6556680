using System.Reflection;

namespace Viper.Studio.Api;

/// <summary>The page's HTML, CSS and JavaScript, embedded in the assembly (no front-end build step, nothing on disk to serve).</summary>
public static class StaticAssets
{
    private static readonly Dictionary<string, string> Types = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8", [".css"] = "text/css; charset=utf-8", [".js"] = "text/javascript; charset=utf-8",
    };

    private static readonly Dictionary<string, byte[]> Files = Load();

    public static IResult Serve(string name) =>
        Files.TryGetValue(name, out byte[]? bytes)
            ? Results.Bytes(bytes, Types[Path.GetExtension(name)])
            : Results.Json(new { error = $"no asset named '{name}'" }, statusCode: StatusCodes.Status404NotFound);

    private static Dictionary<string, byte[]> Load()
    {
        Assembly assembly = typeof(StaticAssets).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[resource["wwwroot/".Length..]] = copy.ToArray();
        }

        return files;
    }
}

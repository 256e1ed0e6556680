using System.Text.RegularExpressions;

namespace Viper.Studio;

/// <summary>
/// What a client may read of a server-side message: paths under the workspace become workspace-relative, a model or
/// adapter folder becomes its folder name, and any other absolute path is cut to its last segment. The full message
/// stays in the server's log.
/// </summary>
public sealed partial class ClientText(StudioOptions options)
{
    public string Redact(string message)
    {
        string text = Relative(message, options.Workspace);
        foreach (string? folder in new[] { options.Generator, options.Extractor, options.ExtractorAdapter, options.Metric, options.MetricAdapter, options.StarterFolder })
        {
            if (!string.IsNullOrEmpty(folder))
            {
                string trimmed = Path.TrimEndingDirectorySeparator(folder);
                text = text.Replace(trimmed, Path.GetFileName(trimmed), StringComparison.Ordinal);
            }
        }

        return AbsolutePath().Replace(text, m => m.Groups["last"].Value is { Length: > 0 } last ? last : "…");
    }

    private static string Relative(string text, string root)
    {
        string trimmed = Path.TrimEndingDirectorySeparator(root);
        return text.Replace(trimmed + Path.DirectorySeparatorChar, "", StringComparison.Ordinal).Replace(trimmed, "the workspace", StringComparison.Ordinal);
    }

    // "/a/b/c.json" (not a URL's path: no scheme or host before it) → "c.json".
    [GeneratedRegex(@"(?<![\w:./])/(?:[^\s'""/:,;()<>]+/)+(?<last>[^\s'""/:,;()<>]*)")]
    private static partial Regex AbsolutePath();
}

using Viper.Pipelines;
using Viper.Pipelines.Preferences;

namespace Viper.Studio.Work;

/// <summary>
/// The session's preferences file, <c>workspace/preferences.json</c>: the same file `viper preferences` writes and
/// `viper generate --preferences` reads ({"likes": […], "dislikes": […]}, plus the extractor's source after an extraction).
/// </summary>
public sealed class PreferenceStore(StudioOptions options)
{
    private readonly Lock _gate = new();

    public string Path { get; } = System.IO.Path.Combine(options.Workspace, "preferences.json");

    public VisualPreference Current
    {
        get
        {
            lock (_gate)
            {
                return File.Exists(Path) ? VisualPreference.Load(Path) : new VisualPreference([], []);
            }
        }
    }

    public void Save(VisualPreference preference)
    {
        lock (_gate)
        {
            preference.Save(Path);
        }
    }

    public void Save(ExtractedPreference extracted)
    {
        lock (_gate)
        {
            extracted.Save(Path, commentsFile: null, options.Extractor!, options.ExtractorAdapter!);
        }
    }
}

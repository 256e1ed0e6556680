namespace Viper.Engine.Tests.Support;

/// <summary>
/// A test driven through Debian's chromium (headless) and its chromedriver — tools/setup.sh installs both; where they
/// could not be installed the test is reported as skipped with the reason. Nothing ever downloads a browser.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";
    public const string ChromeDriver = "/usr/bin/chromedriver";

    public BrowserFactAttribute()
    {
        string[] missing = [.. new[] { Chromium, ChromeDriver }.Where(p => !File.Exists(p))];
        if (missing.Length > 0)
        {
            Skip = $"no browser here: {string.Join(" and ", missing)} missing (tools/setup.sh installs Debian's chromium and chromium-driver)";
        }
    }
}

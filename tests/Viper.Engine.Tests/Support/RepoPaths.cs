namespace Viper.Engine.Tests.Support;

/// <summary>Locates the repository (the folder holding Viper.Engine.sln) and the fixtures in it.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string OpFixtures => Path.Combine(Root, "tests", "fixtures", "ops");

    public static string Fixtures(string family) => Path.Combine(Root, "tests", "fixtures", family);

    /// <summary>
    /// The shared data beside the checkout (../shared: vocabularies and the upstream diffusers/transformers reference
    /// vectors), or $VIPER_SHARED. Tests that need it fail, naming the path, when it is absent.
    /// </summary>
    public static string Shared(params string[] parts)
    {
        string root = Environment.GetEnvironmentVariable("VIPER_SHARED") ?? Path.GetFullPath(Path.Combine(Root, "..", "shared"));
        string path = Path.Combine([root, .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new FileNotFoundException($"shared reference data {path} is missing (expected ../shared beside the checkout or $VIPER_SHARED)", path);
        }

        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Viper.Engine.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no Viper.Engine.sln above {AppContext.BaseDirectory}");
    }
}

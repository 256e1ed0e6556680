namespace Viper.Engine.Tests.Support;

/// <summary>Locates the repository (the folder holding Viper.Engine.sln) and the fixtures in it.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string OpFixtures => Path.Combine(Root, "tests", "fixtures", "ops");

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

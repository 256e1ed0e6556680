namespace Viper.Benchmarks;

/// <summary>Paths under the repository the benchmark runs from (its bin folder sits inside it).</summary>
internal static class RepositoryPaths
{
    public static string Under(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Viper.Engine.sln")))
            {
                return Path.Combine([dir.FullName, .. parts]);
            }
        }

        throw new DirectoryNotFoundException("the repository (Viper.Engine.sln) was not found above the benchmark's folder");
    }
}

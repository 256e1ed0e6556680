namespace Viper.Engine.Tests.Support;

/// <summary>A fresh temporary folder, deleted with everything in it on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("viper-test-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

namespace Viper.Engine.Tests.Support;

/// <summary>The studio tests' models, written once per test class: the tiny pipelines and the scripted extractor.</summary>
public sealed class StudioModels : IDisposable
{
    private readonly TempFolder _extractor = new();

    public StudioModels() => ScriptedExtractor.Write(_extractor.Path);

    public TinyPipelineFolders Pipelines { get; } = new();

    public string Extractor => _extractor.Path;

    public void Dispose()
    {
        Pipelines.Dispose();
        _extractor.Dispose();
    }
}

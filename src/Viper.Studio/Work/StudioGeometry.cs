using Viper.Pipelines;

namespace Viper.Studio.Work;

/// <summary>The generator's accepted sizes, read once from its configs (no weights), so requests are checked before they queue.</summary>
public sealed class StudioGeometry(StudioOptions options)
{
    private readonly Lazy<PipelineGeometry?> _value = new(() => options.Generator is { } folder ? PipelineGeometry.Read(folder, options.GeneratorConfig) : null);

    public PipelineGeometry? Value => _value.Value;
}

using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>One backend per device a command uses: the main one (--backend/--device) and those --place names.</summary>
internal sealed class PlacedBackends(DeviceName main, IReadOnlyDictionary<string, DeviceName> placement) : IDisposable
{
    private readonly Dictionary<DeviceName, IBackend> _backends = [];

    public IBackend Main => _backends[main];

    /// <summary>The placed components with their backends (what PipelineOptions.Placement takes).</summary>
    public IReadOnlyDictionary<string, IBackend> Placement => placement.ToDictionary(p => p.Key, p => _backends[p.Value], StringComparer.Ordinal);

    /// <summary>The backend <paramref name="component"/> runs on.</summary>
    public IBackend For(string component) => placement.TryGetValue(component, out DeviceName device) ? _backends[device] : Main;

    /// <summary>The main device, then each placed component's ("cuda:0; unet=cuda:1, vae=cuda:0"), for records and logs.</summary>
    public string Describe() => placement.Count == 0 ? main.ToString()
        : $"{main}; {string.Join(", ", placement.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}";

    public void Add(DeviceName device, IBackend backend) => _backends.Add(device, backend);

    public void Dispose()
    {
        foreach (IBackend backend in _backends.Values)
        {
            backend.Dispose();
        }
    }
}

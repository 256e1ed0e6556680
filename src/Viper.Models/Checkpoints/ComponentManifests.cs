using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>The weights manifests the model code can write: every known CLIP tower, diffusers model and IDEFICS2 checkpoint, by name.</summary>
public static class ComponentManifests
{
    public static IReadOnlyList<string> Names { get; } =
    [
        .. ClipComponent.Known.Select(c => c.Name), .. DiffusersComponent.Known.Select(c => c.Name), .. Idefics2Component.Known.Select(c => c.Name),
    ];

    public static WeightsManifest Of(string name, IBackend backend) =>
        DiffusersComponent.Find(name)?.Manifest(backend)
        ?? ClipComponent.Known.FirstOrDefault(c => c.Name == name)?.Manifest(backend)
        ?? Idefics2Component.Known.FirstOrDefault(c => c.Name == name)?.Manifest(backend)
        ?? throw new ArgumentException($"unknown component '{name}'; known: {string.Join(", ", Names)}");
}

using Viper.Models.Idefics2;
using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>
/// An IDEFICS2 checkpoint (transformers' Idefics2ForConditionalGeneration) by its config: the real idefics2-8b, whose
/// manifest is weights-manifest/idefics2-8b.json, and the tiny one of <c>viper make-tiny idefics2</c> and
/// ../shared/refs/idefics2.
/// </summary>
public sealed record Idefics2Component(string Name, string Checkpoint, Idefics2Config Config, string File)
{
    public static IReadOnlyList<Idefics2Component> Known { get; } =
    [
        // The download is sharded; its index names the shards (their names and stored dtype could not be checked here:
        // no model hub), and the tensors are compared through it.
        new("idefics2-8b", "HuggingFaceM4/idefics2-8b", Idefics2Config.Default8B, "model.safetensors.index.json"),
        new("tiny-idefics2", "tiny: viper make-tiny idefics2 (../shared/refs/idefics2's sizes)", TinyIdefics2.Config, "model.safetensors"),
    ];

    /// <summary>Every tensor the model reads, with its shape, stored as f32 — allocating nothing.</summary>
    public WeightsManifest Manifest(IBackend backend)
    {
        var recorder = new ShapeRecorder(backend);
        using var model = new Idefics2ForConditionalGeneration(recorder.Root, Config);
        return recorder.ToManifest(Checkpoint, File);
    }
}

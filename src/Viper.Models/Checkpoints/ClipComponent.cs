using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>
/// A CLIP tower as a checkpoint folder holds it: which config, with or without projection, and the transformers
/// class its config.json names. <see cref="Known"/> lists the real components (their manifests) and the tiny
/// random-weight ones the tests and the README demo use.
/// </summary>
public sealed record ClipComponent(string Name, string Checkpoint, ClipTextConfig? Text, ClipVisionConfig? Vision, bool Projection)
{
    /// <summary>quick_gelu, legacy argmax pooling (eos_token_id 2), as SD1.x's encoder.</summary>
    public static ClipTextConfig TinyText { get; } = new()
    {
        VocabSize = 1000, HiddenSize = 32, IntermediateSize = 64, ProjectionDim = 32, NumHiddenLayers = 3, NumAttentionHeads = 4, EosTokenId = 2,
    };

    /// <summary>gelu, first-EOS pooling, a projection: the paths SDXL's second encoder takes; head dim 8.</summary>
    public static ClipTextConfig TinyTextProjection { get; } = new()
    {
        VocabSize = 1000, HiddenSize = 40, IntermediateSize = 80, ProjectionDim = 24, NumHiddenLayers = 3, NumAttentionHeads = 5,
        HiddenAct = "gelu", EosTokenId = 999,
    };

    public static ClipVisionConfig TinyVision { get; } = new()
    {
        HiddenSize = 32, IntermediateSize = 64, ProjectionDim = 16, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 28, PatchSize = 7,
    };

    // After the tiny configs: static initialisers run in textual order.
    public static IReadOnlyList<ClipComponent> Known { get; } =
    [
        new("sd15-text-encoder", "stable-diffusion-v1-5/stable-diffusion-v1-5/text_encoder", ClipTextConfig.ClipVitL14, null, false),
        new("sd21-text-encoder", "stabilityai/stable-diffusion-2-1/text_encoder", ClipTextConfig.OpenClipVitH14, null, false),
        new("sdxl-text-encoder", "stabilityai/stable-diffusion-xl-base-1.0/text_encoder", ClipTextConfig.ClipVitL14, null, false),
        new("sdxl-text-encoder-2", "stabilityai/stable-diffusion-xl-base-1.0/text_encoder_2", ClipTextConfig.OpenClipBigG14, null, true),
        new("sdxl-refiner-text-encoder-2", "stabilityai/stable-diffusion-xl-refiner-1.0/text_encoder_2", ClipTextConfig.OpenClipBigG14, null, true),
        new("clip-vit-l14-vision", "openai/clip-vit-large-patch14 (CLIPVisionModelWithProjection)", null, ClipVisionConfig.ClipVitL14, true),
        new("tiny-clip-text", "tiny: SD1.x-style text encoder", TinyText, null, false),
        new("tiny-clip-text-projection", "tiny: SDXL text_encoder_2-style encoder", TinyTextProjection, null, true),
        new("tiny-clip-vision", "tiny: CLIPVisionModelWithProjection", null, TinyVision, true),
        new("tiny-sdxl-vision-l", "tiny: CLIP ViT-L/14-style image tower for tiny-sdxl's text_encoder (projection 1280)", null, TinyVision with { ProjectionDim = 1280 }, true),
        new("tiny-sdxl-vision-g", "tiny: OpenCLIP bigG-style image tower for tiny-sdxl's text_encoder_2 (projection 1280)",
            null, TinyVision with { HiddenSize = 40, IntermediateSize = 80, NumAttentionHeads = 5, ProjectionDim = 1280, HiddenAct = "gelu" }, true),
    ];

    public static ClipComponent Find(string name) =>
        Known.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"unknown CLIP component '{name}'; known: {string.Join(", ", Known.Select(c => c.Name))}");

    public IDisposable Build(WeightSource weights) =>
        Text is not null ? new ClipTextModel(weights.Root, Text, Projection) : new ClipVisionModel(weights.Root, Vision!);

    /// <summary>Every tensor the model reads, with its shape, as the published f32 file stores it — allocating nothing.</summary>
    public WeightsManifest Manifest(Runtime.IBackend backend)
    {
        var recorder = new ShapeRecorder(backend);
        using IDisposable model = Build(recorder);
        return recorder.ToManifest(Checkpoint, "model.safetensors");
    }

    /// <summary>The config.json transformers writes for this component.</summary>
    public string ConfigJson()
    {
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };
        JsonObject node = (Text is not null ? JsonSerializer.SerializeToNode(Text, options) : JsonSerializer.SerializeToNode(Vision, options))!.AsObject();
        node.Remove("patches_per_side");
        string architecture = (Text is not null, Projection) switch
        {
            (true, false) => "CLIPTextModel",
            (true, true) => "CLIPTextModelWithProjection",
            _ => "CLIPVisionModelWithProjection",
        };
        node["architectures"] = new JsonArray(architecture);
        node["model_type"] = Text is not null ? "clip_text_model" : "clip_vision_model";
        return node.ToJsonString(options);
    }
}

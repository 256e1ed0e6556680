using System.Text.RegularExpressions;
using Viper.Backends.Cpu;
using Viper.Engine.Tests.Support;
using Viper.Models.Adapters;
using Viper.Models.Checkpoints;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// weights-manifest/idefics2-8b.json, written from the model code at the 8B preset (CommittedManifestTests keeps it in
/// sync): its parts checked against parameter counts published for the models idefics2-8b is built from, its naming
/// against a checkpoint transformers itself wrote (../shared/refs/idefics2), and adapters checked against it before
/// any base model is downloaded.
/// </summary>
public class Idefics2ManifestTests
{
    private const int Width = 4096, Vocabulary = 32003, VisionWidth = 1152, VisionMlp = 4304;

    private static readonly Lazy<WeightsManifest> RealManifest =
        new(() => WeightsManifest.Load(Path.Combine(RepoPaths.Root, "weights-manifest", "idefics2-8b.json")));

    private static WeightsManifest Real => RealManifest.Value;

    private static string RefAdapter => Path.Combine(Idefics2Refs.Folder, "lora_adapter");

    /// <summary>
    /// The text model is Mistral-7B-v0.1 (7,241,732,096 parameters with its 32,000-token vocabulary) whose embedding and
    /// lm_head have three rows more: &lt;fake_token_around_image&gt;, &lt;image&gt;, &lt;end_of_utterance&gt;.
    /// </summary>
    [Fact]
    public void TheTextModelIsMistral7BWithThreeAddedTokens()
    {
        long text = Parameters(Real, "model.text_model.") + Parameters(Real, "lm_head.");
        Assert.Equal(7_241_732_096L + (2L * 3 * Width), text);
        Assert.Equal([Vocabulary, Width], Real.Tensors["lm_head.weight"].Shape);
        Assert.Equal(32, Real.Tensors.Keys.Count(k => k.StartsWith("model.text_model.layers.", StringComparison.Ordinal) && k.EndsWith(".input_layernorm.weight", StringComparison.Ordinal)));
    }

    /// <summary>
    /// The vision tower is SigLIP so400m-patch14 (google/siglip-so400m-patch14-384's vision model: 428,225,600
    /// parameters) without its attention-pooling head and with 70×70 position embeddings (980-pixel images) instead of 27×27.
    /// </summary>
    [Fact]
    public void TheVisionTowerIsSiglipSo400mWithoutItsHeadAt980Pixels()
    {
        long vision = Parameters(Real, "model.vision_model.");
        long positions980 = 70L * 70 * VisionWidth, positions384 = 27L * 27 * VisionWidth;
        long head = VisionWidth // probe
            + (3L * VisionWidth * VisionWidth) + (3 * VisionWidth) // attention in_proj
            + ((long)VisionWidth * VisionWidth) + VisionWidth // out_proj
            + (2 * VisionWidth) // layernorm
            + (2L * VisionWidth * VisionMlp) + VisionMlp + VisionWidth; // mlp fc1, fc2
        Assert.Equal(428_225_600L, vision - positions980 + positions384 + head);
        Assert.Equal([4900, VisionWidth], Real.Tensors["model.vision_model.embeddings.position_embedding.weight"].Shape);
    }

    [Fact]
    public void TheConnectorResamplesToSixtyFourLatentsInThreeLayers()
    {
        Assert.Equal([64, Width], Real.Tensors["model.connector.perceiver_resampler.latents"].Shape);
        Assert.Equal([4 * 96, Width], Real.Tensors["model.connector.perceiver_resampler.layers.2.self_attn.k_proj.weight"].Shape);
        Assert.DoesNotContain(Real.Tensors.Keys, k => k.StartsWith("model.connector.perceiver_resampler.layers.3.", StringComparison.Ordinal));
        Assert.Equal(8_402_768_112L, Parameters(Real, ""));
    }

    /// <summary>transformers 4.42.4 wrote the refs' tiny checkpoint: the manifest the engine writes at its sizes names the same tensors.</summary>
    [Fact]
    public void TheNamesAreTheOnesTransformersWrites()
    {
        using var cpu = new CpuBackend(1);
        WeightsManifest tiny = ComponentManifests.Of("tiny-idefics2", cpu);
        using WeightStore written = WeightStore.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors"));
        ManifestReport report = tiny.Check(written, anyFloatDType: false);
        Assert.True(report.IsValid, report.ToString());
    }

    /// <summary>
    /// An adapter in the layout ViPer's adapters have (the refs' target regex over the text model, modality projection and
    /// perceiver) shaped for idefics2-8b fits the real manifest; the refs' tiny adapter does not, and the error names the
    /// tensor; the regex selects the 248 linear layers it names in the 8B model.
    /// </summary>
    [Fact]
    public void AdaptersAreCheckedAgainstTheManifestBeforeTheBaseIsDownloaded()
    {
        LoraConfig config = LoraConfig.Load(Path.Combine(RefAdapter, "adapter_config.json"));
        string[] targeted = [.. Real.Tensors.Where(t => t.Value.Shape.Length == 2 && t.Key.EndsWith(".weight", StringComparison.Ordinal))
            .Select(t => t.Key[..^".weight".Length]).Where(config.Targets)];
        Assert.Equal((32 * 7) + 3 + (3 * 7), targeted.Length);

        using var folder = new TempFolder();
        File.Copy(Path.Combine(RefAdapter, "adapter_config.json"), Path.Combine(folder.Path, "adapter_config.json"));
        const int Rank = 1;
        var tensors = new List<TensorData>();
        foreach (string module in targeted)
        {
            int[] w = Real.Tensors[module + ".weight"].Shape;
            tensors.Add(Zeros($"base_model.model.{module}.lora_A.weight", Rank, w[1]));
            tensors.Add(Zeros($"base_model.model.{module}.lora_B.weight", w[0], Rank));
        }

        SafeTensorsWriter.Write(Path.Combine(folder.Path, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using (PeftLoraAdapter shaped = PeftLoraAdapter.Load(folder.Path))
        {
            shaped.CheckAgainst(Real);
            Assert.Equal(targeted.Length, shaped.Modules.Count);
        }

        using PeftLoraAdapter tiny = PeftLoraAdapter.Load(RefAdapter);
        var e = Assert.Throws<InvalidDataException>(() => tiny.CheckAgainst(Real));
        Assert.Matches(new Regex(@"'base_model\.model\.model\.[a-z_.0-9]+\.lora_A\.weight' \[4, \d+\] and .* do not fit '.+\.weight' \[\d+, \d+\]"), e.Message);
    }

    private static long Parameters(WeightsManifest manifest, string prefix) =>
        manifest.Tensors.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal)).Sum(t => t.Value.Shape.Aggregate(1L, (a, d) => a * d));

    private static TensorData Zeros(string name, int rows, int columns) =>
        new(name, DType.F32, new Shape(rows, columns), new byte[rows * columns * sizeof(float)]);
}

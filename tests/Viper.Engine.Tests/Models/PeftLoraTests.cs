using Viper.Engine.Tests.Support;
using Viper.Models.Adapters;
using Viper.Pipelines.Chat;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// ../shared/refs/idefics2/lora_adapter (PEFT save_pretrained; r 4, alpha 8, a regex over the text model, modality
/// projection and perceiver linears) merged as W + (alpha / r)·B·A: the lora_* references are the VPE and metric prompts
/// run with the merged weights in transformers. Merged at load and attached unmerged, on every backend; malformed
/// adapters are refused with the key at fault.
/// </summary>
public class PeftLoraTests
{
    [Theory]
    [MemberData(nameof(TestBackends.WithFlag), MemberType = typeof(TestBackends))]
    public void TheAdaptedModelMatchesTransformersMergedOrNot(string backend, bool unmerged)
    {
        using RefTensors inputs = Idefics2Refs.Inputs();
        using RefTensors outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create(backend);
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32,
            new ChatLoadOptions { AdapterFolder = Path.Combine(Idefics2Refs.Folder, "lora_adapter"), KeepAdapterUnmerged = unmerged });
        foreach (string prompt in new[] { "vpe", "metric" })
        {
            using Tensor states = chat.Model.ImageStates(Idefics2ModelTests.Images(inputs, prompt));
            Tolerance.Close(outputs.Floats($"lora_{prompt}_image_hidden_states"), states.ToFloats(), 1e-4f, 1e-4f, $"{prompt} image states");
            int[] ids = Idefics2Refs.InputIds(inputs, prompt);
            using Tensor merged = chat.Model.MergedEmbeddings(ids, states);
            using var cache = chat.Model.NewCache(ids.Length);
            using Tensor hidden = chat.Model.Forward(merged, cache);
            Tolerance.Close(outputs.Floats($"lora_{prompt}_text_last_hidden_state"), hidden.ToFloats(), 1e-4f, 1e-4f, $"{prompt} last hidden state");
            using Tensor last = b.Narrow(hidden, 1, ids.Length - 4, 4);
            using Tensor logits = chat.Model.Logits(last);
            Tolerance.Close(outputs.Floats($"lora_{prompt}_logits_last4"), logits.ToFloats(), 1e-4f, 1e-4f, $"{prompt} logits");
        }
    }

    /// <summary>
    /// modules_to_save as PEFT's get_peft_model_state_dict saves it (<c>base_model.model.lm_head.weight</c>, the
    /// "modules_to_save.default" part dropped): the adapter's lm_head replaces the base's, merged or not. The test's
    /// lm_head is the base's doubled (the refs' regex does not adapt lm_head), so the logits are the refs' LoRA logits
    /// doubled — exactly, as scaling by two is exact in floating point. fan_in_fan_out on nn.Linear layers is ignored with
    /// a warning, as PEFT does.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SavedModulesReplaceTheBaseTensorsMergedOrNot(bool unmerged)
    {
        string source = Path.Combine(Idefics2Refs.Folder, "lora_adapter");
        using var folder = new TempFolder();
        string config = File.ReadAllText(Path.Combine(source, "adapter_config.json"))
            .Replace("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", StringComparison.Ordinal)
            .Replace("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(folder.Path, "adapter_config.json"), config);
        var tensors = new List<TensorData>();
        using (WeightStore model = WeightStore.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors")))
        {
            using (WeightStore adapter = WeightStore.Open(Path.Combine(source, "adapter_model.safetensors")))
            {
                tensors.AddRange(adapter.Names.Select(n => new TensorData(n, adapter.Entry(n).DType, adapter.Entry(n).Shape, adapter.Bytes(n).ToArray())));
            }

            float[] doubled = [.. HostTensors.DecodeFloats(model.Bytes("lm_head.weight").ToArray(), DType.F32).Select(v => v * 2)];
            tensors.Add(new TensorData("base_model.model.lm_head.weight", DType.F32, model.Entry("lm_head.weight").Shape, HostTensors.EncodeFloats(doubled, DType.F32)));
            SafeTensorsWriter.Write(Path.Combine(folder.Path, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            using PeftLoraAdapter checkedAdapter = PeftLoraAdapter.Load(folder.Path);
            Assert.Contains(checkedAdapter.Warnings, w => w.Contains("fan_in_fan_out", StringComparison.Ordinal));
            checkedAdapter.CheckAgainst(model);
        }

        using RefTensors inputs = Idefics2Refs.Inputs();
        using RefTensors outputs = Idefics2Refs.Outputs();
        using IBackend b = TestBackends.Create("cpu");
        using Idefics2Chat chat = Idefics2Chat.Load(Idefics2Refs.Folder, b, DType.F32,
            new ChatLoadOptions { AdapterFolder = folder.Path, KeepAdapterUnmerged = unmerged });
        using Tensor states = chat.Model.ImageStates(Idefics2ModelTests.Images(inputs, "metric"));
        int[] ids = Idefics2Refs.InputIds(inputs, "metric");
        using Tensor merged = chat.Model.MergedEmbeddings(ids, states);
        using var cache = chat.Model.NewCache(ids.Length);
        using Tensor hidden = chat.Model.Forward(merged, cache);
        using Tensor last = b.Narrow(hidden, 1, ids.Length - 4, 4);
        using Tensor logits = chat.Model.Logits(last);
        float[] expected = [.. outputs.Floats("lora_metric_logits_last4").Select(v => v * 2)];
        Tolerance.Close(expected, logits.ToFloats(), 2e-4f, 1e-4f, "logits with the saved lm_head");
    }

    [Fact]
    public void BadAdaptersAreRefusedNamingTheKey()
    {
        string source = Path.Combine(Idefics2Refs.Folder, "lora_adapter");
        using WeightStore baseWeights = WeightStore.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors"));
        Assert.Contains("DoRA", Refused(source, c => c.Replace("\"use_dora\": false", "\"use_dora\": true"), baseWeights), StringComparison.Ordinal);
        Assert.Contains("'PREFIX_TUNING'", Refused(source, c => c.Replace("\"peft_type\": \"LORA\"", "\"peft_type\": \"PREFIX_TUNING\""), baseWeights), StringComparison.Ordinal);
        Assert.Contains("matches no linear layer", Refused(source, c => System.Text.RegularExpressions.Regex.Replace(c,
            "\"target_modules\": \"[^\"]*\"", "\"target_modules\": \"nothing\""), baseWeights), StringComparison.Ordinal);
        Assert.Contains("target_modules does not select", Refused(source, c => c.Replace("down_proj|", ""), baseWeights), StringComparison.Ordinal);

        using var other = new TempFolder();
        File.Copy(Path.Combine(source, "adapter_config.json"), Path.Combine(other.Path, "adapter_config.json"));
        var tensors = new List<TensorData>();
        using (WeightStore store = WeightStore.Open(Path.Combine(source, "adapter_model.safetensors")))
        {
            tensors.AddRange(store.Names.Select(n => new TensorData(n, store.Entry(n).DType, store.Entry(n).Shape, store.Bytes(n).ToArray())));
        }

        tensors.Add(new TensorData("base_model.model.model.text_model.layers.9.self_attn.q_proj.lora_A.weight", DType.F32, new Shape(4, 32), new byte[4 * 32 * 4]));
        tensors.Add(new TensorData("base_model.model.model.text_model.layers.9.self_attn.q_proj.lora_B.weight", DType.F32, new Shape(32, 4), new byte[4 * 32 * 4]));
        SafeTensorsWriter.Write(Path.Combine(other.Path, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using PeftLoraAdapter extra = PeftLoraAdapter.Load(other.Path);
        var e = Assert.Throws<InvalidDataException>(() => extra.CheckAgainst(baseWeights));
        Assert.Contains("'base_model.model.model.text_model.layers.9.self_attn.q_proj.lora_A.weight' is for module", e.Message, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(other.Path, "adapter_config.json"),
            File.ReadAllText(Path.Combine(source, "adapter_config.json")).Replace("\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]", StringComparison.Ordinal));
        SafeTensorsWriter.Write(Path.Combine(other.Path, "adapter_model.safetensors"),
            [.. tensors.Take(tensors.Count - 2), new TensorData("base_model.model.lm_head.weight", DType.F32, new Shape(3, 32), new byte[3 * 32 * 4])],
            new Dictionary<string, string> { ["format"] = "pt" });
        using (PeftLoraAdapter misshaped = PeftLoraAdapter.Load(other.Path))
        {
            var m = Assert.Throws<InvalidDataException>(() => misshaped.CheckAgainst(baseWeights));
            Assert.Contains("'base_model.model.lm_head.weight' [3, 32] cannot replace 'lm_head.weight'", m.Message, StringComparison.Ordinal);
        }

        File.WriteAllText(Path.Combine(other.Path, "adapter_config.json"), "{ not json");
        Assert.Throws<InvalidDataException>(() => PeftLoraAdapter.Load(other.Path));
        File.Delete(Path.Combine(other.Path, "adapter_config.json"));
        Assert.Throws<FileNotFoundException>(() => PeftLoraAdapter.Load(other.Path));
    }

    [Fact]
    public void TargetsAndScalesFollowPeft()
    {
        using var dir = new TempFolder();
        string path = Path.Combine(dir.Path, "adapter_config.json");
        File.WriteAllText(path, """
            {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "layers_to_transform": [1],
             "rank_pattern": {"v_proj": 4}, "alpha_pattern": {}, "use_rslora": false}
            """);
        LoraConfig config = LoraConfig.Load(path);
        Assert.True(config.Targets("model.text_model.layers.1.self_attn.q_proj"));
        Assert.False(config.Targets("model.text_model.layers.0.self_attn.q_proj"));
        Assert.False(config.Targets("model.text_model.layers.1.self_attn.k_proj"));
        Assert.Equal(2.0, config.Scale("model.text_model.layers.1.self_attn.q_proj"));
        Assert.Equal(4.0, config.Scale("model.text_model.layers.1.self_attn.v_proj"));
        File.WriteAllText(path, """{"r": 16, "lora_alpha": 8, "target_modules": "q_proj", "use_rslora": true}""");
        Assert.Equal(2.0, LoraConfig.Load(path).Scale("q_proj"));
    }

    private static string Refused(string source, Func<string, string> edit, WeightStore baseWeights)
    {
        using var dir = new TempFolder();
        File.WriteAllText(Path.Combine(dir.Path, "adapter_config.json"), edit(File.ReadAllText(Path.Combine(source, "adapter_config.json"))));
        File.Copy(Path.Combine(source, "adapter_model.safetensors"), Path.Combine(dir.Path, "adapter_model.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            using PeftLoraAdapter adapter = PeftLoraAdapter.Load(dir.Path);
            adapter.CheckAgainst(baseWeights);
        });
        return e.Message;
    }
}

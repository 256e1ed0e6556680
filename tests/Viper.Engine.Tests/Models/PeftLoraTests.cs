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

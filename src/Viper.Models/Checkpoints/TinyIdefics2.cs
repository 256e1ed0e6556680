using System.Text.Json;
using System.Text.Json.Nodes;
using Viper.Models.Idefics2;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Models.Checkpoints;

/// <summary>
/// Writes a random-weight IDEFICS2 folder in the exact layout of HuggingFaceM4/idefics2-8b's download — config.json,
/// model.safetensors, generation_config.json, tokenizer.model with the three added tokens, tokenizer_config.json,
/// added_tokens.json, special_tokens_map.json, preprocessor_config.json, processor_config.json — at the tiny sizes of
/// ../shared/refs/idefics2 (vision 32 wide on 48-pixel images of 8-pixel patches, 3 latents, a 3-layer 32-wide Mistral).
/// </summary>
public static class TinyIdefics2
{
    public const string Name = "idefics2";

    public static Idefics2Config Config { get; } = new(
        new Idefics2VisionConfig { HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 2, ImageSize = 48, PatchSize = 8 },
        new Idefics2PerceiverConfig { ResamplerNLatents = 3, ResamplerDepth = 2, ResamplerNHeads = 4, ResamplerHeadDim = 6, NumKeyValueHeads = 1 },
        new Mistral.MistralConfig
        {
            VocabSize = 32003, HiddenSize = 32, IntermediateSize = 40, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 1,
            MaxPositionEmbeddings = 1024, RmsNormEps = 1e-5f,
        },
        ImageTokenId: 32001);

    /// <summary>The tokens idefics2-8b's tokenizer adds to Mistral's 32000, with their ids.</summary>
    public static IReadOnlyList<(string Token, int Id)> AddedTokens { get; } =
        [("<fake_token_around_image>", 32000), ("<image>", 32001), ("<end_of_utterance>", 32002)];

    /// <summary>
    /// Writes the folder; <paramref name="tokenizerModel"/> is Mistral's SentencePiece model to copy in. Another
    /// <paramref name="config"/> (a benchmark's medium sizes) replaces the tiny one; its processor keeps the tiny edges.
    /// </summary>
    public static void Write(string folder, string tokenizerModel, IBackend backend, int seed = 0, string? variant = null, Idefics2Config? config = null)
    {
        config ??= Config;
        if (!File.Exists(tokenizerModel))
        {
            throw new FileNotFoundException($"the Mistral tokenizer model {tokenizerModel} is missing", tokenizerModel);
        }

        var weights = new RandomWeights(backend, DType.F32, seed);
        using (new Idefics2ForConditionalGeneration(weights.Root, config))
        {
            Directory.CreateDirectory(folder);
            TinyCheckpoint.WriteWeights(folder, "model", weights.Recorded, variant, $"tiny idefics2, seed {seed}");
        }

        File.Copy(tokenizerModel, Path.Combine(folder, "tokenizer.model"), overwrite: true);
        WriteJson(folder, "config.json", ConfigJson(config));
        WriteJson(folder, "generation_config.json", new JsonObject { ["bos_token_id"] = 1, ["eos_token_id"] = new JsonArray(2, 32002), ["pad_token_id"] = 0 });
        WriteJson(folder, "added_tokens.json", new JsonObject(AddedTokens.Select(a => KeyValuePair.Create(a.Token, (JsonNode?)a.Id))));
        WriteJson(folder, "special_tokens_map.json", new JsonObject
        {
            ["additional_special_tokens"] = new JsonArray([.. AddedTokens.Select(a => (JsonNode)a.Token)]),
            ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["unk_token"] = "<unk>",
        });
        WriteJson(folder, "tokenizer_config.json", new JsonObject
        {
            ["add_bos_token"] = true, ["add_eos_token"] = false, ["legacy"] = false, ["tokenizer_class"] = "LlamaTokenizer",
            ["added_tokens_decoder"] = new JsonObject(new[] { ("<unk>", 0), ("<s>", 1), ("</s>", 2) }.Concat(AddedTokens)
                .Select(a => KeyValuePair.Create(a.Item2.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    (JsonNode?)new JsonObject { ["content"] = a.Item1, ["special"] = true }))),
        });
        WriteJson(folder, "preprocessor_config.json", new JsonObject
        {
            ["do_convert_rgb"] = true, ["do_image_splitting"] = false, ["do_normalize"] = true, ["do_pad"] = true, ["do_rescale"] = true,
            ["do_resize"] = true, ["image_mean"] = new JsonArray(0.5, 0.5, 0.5), ["image_std"] = new JsonArray(0.5, 0.5, 0.5),
            ["image_processor_type"] = "Idefics2ImageProcessor", ["processor_class"] = "Idefics2Processor", ["resample"] = 2,
            ["rescale_factor"] = 1 / 255.0, ["size"] = new JsonObject { ["longest_edge"] = 48, ["shortest_edge"] = 24 },
        });
        WriteJson(folder, "processor_config.json", new JsonObject { ["image_seq_len"] = config.ImageSequenceLength, ["processor_class"] = "Idefics2Processor" });
    }

    private static JsonObject ConfigJson(Idefics2Config config)
    {
        Idefics2VisionConfig v = config.Vision;
        Idefics2PerceiverConfig p = config.Perceiver;
        Mistral.MistralConfig t = config.Text;
        return new JsonObject
        {
            ["architectures"] = new JsonArray("Idefics2ForConditionalGeneration"), ["model_type"] = "idefics2", ["image_token_id"] = config.ImageTokenId,
            ["tie_word_embeddings"] = false, ["torch_dtype"] = "float32", ["use_cache"] = true,
            ["vision_config"] = new JsonObject
            {
                ["model_type"] = "idefics2", ["hidden_size"] = v.HiddenSize, ["intermediate_size"] = v.IntermediateSize, ["num_hidden_layers"] = v.NumHiddenLayers,
                ["num_attention_heads"] = v.NumAttentionHeads, ["num_channels"] = v.NumChannels, ["image_size"] = v.ImageSize, ["patch_size"] = v.PatchSize,
                ["hidden_act"] = v.HiddenAct, ["layer_norm_eps"] = v.LayerNormEps,
            },
            ["perceiver_config"] = new JsonObject
            {
                ["model_type"] = "idefics2", ["hidden_act"] = p.HiddenAct, ["resampler_n_latents"] = p.ResamplerNLatents, ["resampler_depth"] = p.ResamplerDepth,
                ["resampler_n_heads"] = p.ResamplerNHeads, ["resampler_head_dim"] = p.ResamplerHeadDim, ["num_key_value_heads"] = p.NumKeyValueHeads,
            },
            ["text_config"] = new JsonObject
            {
                ["model_type"] = "mistral", ["vocab_size"] = t.VocabSize, ["hidden_size"] = t.HiddenSize, ["intermediate_size"] = t.IntermediateSize,
                ["num_hidden_layers"] = t.NumHiddenLayers, ["num_attention_heads"] = t.NumAttentionHeads, ["num_key_value_heads"] = t.NumKeyValueHeads,
                ["hidden_act"] = t.HiddenAct, ["max_position_embeddings"] = t.MaxPositionEmbeddings, ["rms_norm_eps"] = t.RmsNormEps,
                ["rope_theta"] = t.RopeTheta, ["sliding_window"] = t.SlidingWindow, ["pad_token_id"] = 0,
            },
        };
    }

    private static void WriteJson(string folder, string name, JsonNode node) =>
        File.WriteAllText(Path.Combine(folder, name), node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
}

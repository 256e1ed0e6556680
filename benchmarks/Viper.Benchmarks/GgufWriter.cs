using System.Text;
using Viper.Models.Loading;
using Viper.Models.Mistral;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// Writes <see cref="MistralStack"/>'s weights as a GGUF v3 file of llama.cpp's "llama" architecture (Mistral is llama
/// with grouped-query attention), the same bytes llama.cpp then streams: BF16 matrices as BF16, Q8_0/Q4_0 blocks as
/// GGML_TYPE_Q8_0/Q4_0 (the engine's blocks are llama.cpp's byte for byte), norms as F32. The vocabulary is synthetic
/// (SentencePiece layout: unk, bos, eos, 256 byte tokens, then placeholders); the benchmark feeds token ids directly.
/// Layout per ggml's gguf.cpp: header, key-values, tensor infos (dims innermost first), data aligned to 32 bytes.
/// </summary>
internal static class GgufWriter
{
    private const int Alignment = 32;

    public static void Write(string path, MistralConfig config, ParameterSet parameters)
    {
        var tensors = new List<(string Name, long[] Dims, uint Type, byte[] Data)>
        {
            Matrix("token_embd.weight", parameters["model.embed_tokens.weight"]),
        };
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string layer = $"model.layers.{i}";
            tensors.Add(Norm($"blk.{i}.attn_norm.weight", parameters[$"{layer}.input_layernorm.weight"]));
            tensors.Add(Matrix($"blk.{i}.attn_q.weight", parameters[$"{layer}.self_attn.q_proj.weight"]));
            tensors.Add(Matrix($"blk.{i}.attn_k.weight", parameters[$"{layer}.self_attn.k_proj.weight"]));
            tensors.Add(Matrix($"blk.{i}.attn_v.weight", parameters[$"{layer}.self_attn.v_proj.weight"]));
            tensors.Add(Matrix($"blk.{i}.attn_output.weight", parameters[$"{layer}.self_attn.o_proj.weight"]));
            tensors.Add(Norm($"blk.{i}.ffn_norm.weight", parameters[$"{layer}.post_attention_layernorm.weight"]));
            tensors.Add(Matrix($"blk.{i}.ffn_gate.weight", parameters[$"{layer}.mlp.gate_proj.weight"]));
            tensors.Add(Matrix($"blk.{i}.ffn_up.weight", parameters[$"{layer}.mlp.up_proj.weight"]));
            tensors.Add(Matrix($"blk.{i}.ffn_down.weight", parameters[$"{layer}.mlp.down_proj.weight"]));
        }

        tensors.Add(Norm("output_norm.weight", parameters["model.norm.weight"]));
        tensors.Add(Matrix("output.weight", parameters["lm_head.weight"]));

        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        using var w = new BinaryWriter(file, Encoding.UTF8);
        w.Write(0x46554747u); // "GGUF"
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        var kv = new List<Action>
        {
            () => String("general.architecture", "llama"),
            () => String("general.name", "viper-mistral-random"),
            () => U32("llama.context_length", 4096),
            () => U32("llama.embedding_length", (uint)config.HiddenSize),
            () => U32("llama.block_count", (uint)config.NumHiddenLayers),
            () => U32("llama.feed_forward_length", (uint)config.IntermediateSize),
            () => U32("llama.rope.dimension_count", (uint)(config.HiddenSize / config.NumAttentionHeads)),
            () => U32("llama.attention.head_count", (uint)config.NumAttentionHeads),
            () => U32("llama.attention.head_count_kv", (uint)config.NumKeyValueHeads),
            () => F32("llama.attention.layer_norm_rms_epsilon", config.RmsNormEps),
            () => F32("llama.rope.freq_base", config.RopeTheta),
            () => U32("general.alignment", Alignment),
            () => String("tokenizer.ggml.model", "llama"),
            () => Vocabulary(config.VocabSize),
            () => U32("tokenizer.ggml.bos_token_id", 1),
            () => U32("tokenizer.ggml.eos_token_id", 2),
            () => U32("tokenizer.ggml.unknown_token_id", 0),
        };
        w.Write((ulong)(kv.Count + 2)); // the vocabulary writes three arrays
        kv.ForEach(write => write());

        long offset = 0;
        foreach ((string name, long[] dims, uint type, byte[] data) in tensors)
        {
            Str(name);
            w.Write((uint)dims.Length);
            foreach (long d in dims)
            {
                w.Write((ulong)d);
            }

            w.Write(type);
            w.Write((ulong)offset);
            offset = Align(offset + data.Length);
        }

        Pad();
        foreach ((_, _, _, byte[] data) in tensors)
        {
            w.Write(data);
            Pad();
        }

        void Str(string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            w.Write((ulong)bytes.Length);
            w.Write(bytes);
        }

        void String(string key, string value) { Str(key); w.Write(8u); Str(value); }
        void U32(string key, uint value) { Str(key); w.Write(4u); w.Write(value); }
        void F32(string key, float value) { Str(key); w.Write(6u); w.Write(value); }

        void Vocabulary(int size)
        {
            string[] tokens = [.. Enumerable.Range(0, size).Select(i => i switch
            {
                0 => "<unk>",
                1 => "<s>",
                2 => "</s>",
                < 259 => $"<0x{i - 3:X2}>",
                _ => $"\u2581t{i}",
            })];
            Str("tokenizer.ggml.tokens");
            w.Write(9u);
            w.Write(8u);
            w.Write((ulong)size);
            Array.ForEach(tokens, Str);
            Str("tokenizer.ggml.scores");
            w.Write(9u);
            w.Write(6u);
            w.Write((ulong)size);
            for (int i = 0; i < size; i++)
            {
                w.Write(-(float)i);
            }

            Str("tokenizer.ggml.token_type");
            w.Write(9u);
            w.Write(5u);
            w.Write((ulong)size);
            for (int i = 0; i < size; i++)
            {
                w.Write(i switch { 0 => 2, 1 or 2 => 3, < 259 => 6, _ => 1 }); // unknown, control, byte, normal
            }
        }

        void Pad()
        {
            while (file.Position % Alignment != 0)
            {
                w.Write((byte)0);
            }
        }
    }

    private static long Align(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    private static (string, long[], uint, byte[]) Matrix(string name, Tensor t) =>
        (name, [t.Shape[1], t.Shape[0]], t.DType switch
        {
            DType.BF16 => 30u,
            DType.Q8_0 => 8u,
            DType.Q4_0 => 2u,
            _ => throw new ArgumentException($"{name}: llama.cpp has no {t.DType.Label()} type for this stack"),
        }, t.ToBytes());

    private static (string, long[], uint, byte[]) Norm(string name, Tensor t) =>
        (name, [t.Shape[0]], 0u, HostTensors.EncodeFloats(t.ToFloats(), DType.F32));
}

using System.Runtime.InteropServices;
using Viper.Models.Tokenizers;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// A tiny IDEFICS2 (the refs' folder, architecture and tokenizer unchanged) whose weights are set so that greedy decoding
/// after the extractor prompt writes <see cref="Script"/> and stops: a random-weight extractor writes noise, and the
/// studio's tests need one that answers with preference sections, run by the real engine end to end.
/// How: every token of the script gets a one-hot embedding; attention and MLPs add nothing except layer 0, whose
/// queries and keys are zero (uniform attention) and whose values read the "DIS" token's dimension, so after "DIS" the
/// hidden state carries a small positive marker; lm_head maps each token to its successor, and ":" — which ends both
/// the prompt ("Assistant:") and "FEATURES:" — to "L" without the marker and to "ne" with it. The marker is the mean
/// over the whole prefix, so its size depends on the prompt's length: the weights suit prompts of about 250 to 1000
/// tokens (the extractor's instruction is about 250, each tiny image adds 5 plus the comment). The image features are
/// zero (the perceiver's final norm weight is 0); the adapter's lora_B are zero, so merging changes nothing.
/// </summary>
public static class ScriptedExtractor
{
    /// <summary>What the model writes: "Liked art features : watercolor, pastel tones" / "DISLIKED ART FEATURES: neon".</summary>
    public const string Script = "Liked art features : watercolor, pastel tones\nDISLIKED ART FEATURES: neon";

    private const int Hidden = 32, Vocab = 32003, EndOfUtterance = 32002, Marker = Hidden - 1;
    private const float Successor = 10f, Runner = 8f, MarkerWeight = 1750f / 5.657f;

    /// <summary>Writes the model to <paramref name="folder"/> and its adapter to <paramref name="folder"/>/adapter.</summary>
    public static void Write(string folder)
    {
        Directory.CreateDirectory(Path.Combine(folder, "adapter"));
        foreach (string file in Directory.EnumerateFiles(Idefics2Refs.Folder).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.EndsWith("README.json", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        }

        File.Copy(Path.Combine(Idefics2Refs.Folder, "lora_adapter", "adapter_config.json"), Path.Combine(folder, "adapter", "adapter_config.json"));
        MistralTokenizer tokenizer = MistralTokenizer.Load(Idefics2Refs.Folder);
        int colon = tokenizer.EncodeContinuation("Assistant:")[^1];
        int dis = tokenizer.EncodeContinuation("DIS")[0];
        int[] sequence = [colon, .. tokenizer.EncodeContinuation(Script), EndOfUtterance];
        Dictionary<int, int> dimension = sequence[..^1].Distinct().Select((token, i) => (token, i)).ToDictionary(p => p.token, p => p.i);
        Assert.True(dimension.Count < Marker, $"the script has {dimension.Count} distinct tokens; the tiny model has room for {Marker - 1}");

        var replaced = new Dictionary<string, float[]>(StringComparer.Ordinal)
        {
            ["model.text_model.embed_tokens.weight"] = Embeddings(dimension),
            ["lm_head.weight"] = Successors(sequence, dimension, dis),
            ["model.connector.perceiver_resampler.norm.weight"] = new float[Hidden],
        };
        var v = new float[8 * Hidden];
        v[dimension[dis]] = 1; // kv head 0, channel 0 reads the "DIS" dimension
        var o = new float[Hidden * Hidden];
        o[Marker * Hidden] = 1; // query head 0, channel 0 → the marker dimension
        replaced["model.text_model.layers.0.self_attn.v_proj.weight"] = v;
        replaced["model.text_model.layers.0.self_attn.o_proj.weight"] = o;

        using SafeTensorsFile refs = SafeTensorsFile.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors"));
        var tensors = new List<TensorData>();
        foreach (TensorEntry entry in refs.Tensors)
        {
            float[]? values = replaced.GetValueOrDefault(entry.Name) ?? (Silenced(entry.Name) ? new float[entry.Shape.ElementCount] : null);
            tensors.Add(new TensorData(entry.Name, entry.DType, entry.Shape, values is null ? refs.Bytes(entry).ToArray() : MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        }

        SafeTensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });

        using SafeTensorsFile adapter = SafeTensorsFile.Open(Path.Combine(Idefics2Refs.Folder, "lora_adapter", "adapter_model.safetensors"));
        SafeTensorsWriter.Write(Path.Combine(folder, "adapter", "adapter_model.safetensors"),
            [.. adapter.Tensors.Select(e => new TensorData(e.Name, e.DType, e.Shape,
                e.Name.Contains("lora_B", StringComparison.Ordinal) ? new byte[e.ByteLength] : adapter.Bytes(e).ToArray()))],
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    // Text-model projections that must add nothing: q/k (uniform attention), every o_proj and down_proj except the ones set.
    private static bool Silenced(string name) => name.StartsWith("model.text_model.layers.", StringComparison.Ordinal)
        && (name.EndsWith("q_proj.weight", StringComparison.Ordinal) || name.EndsWith("k_proj.weight", StringComparison.Ordinal)
            || name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal)
            || name.EndsWith("v_proj.weight", StringComparison.Ordinal));

    private static float[] Embeddings(Dictionary<int, int> dimension)
    {
        var table = new float[Vocab * Hidden];
        foreach ((int token, int d) in dimension)
        {
            table[(token * Hidden) + d] = 1;
        }

        return table;
    }

    private static float[] Successors(int[] sequence, Dictionary<int, int> dimension, int marker)
    {
        var head = new float[Vocab * Hidden];
        var seen = new Dictionary<(int Token, bool Marked), int>();
        bool marked = false;
        for (int i = 0; i + 1 < sequence.Length; i++)
        {
            marked |= i > 0 && sequence[i] == marker;
            if (seen.TryGetValue((sequence[i], marked), out int next))
            {
                Assert.True(next == sequence[i + 1], $"token {sequence[i]} is followed by two different tokens in the script");
                continue;
            }

            seen[(sequence[i], marked)] = sequence[i + 1];
        }

        foreach (((int token, bool isMarked), int next) in seen)
        {
            bool split = seen.ContainsKey((token, !isMarked)) && seen[(token, !isMarked)] != next;
            head[(next * Hidden) + dimension[token]] = split && isMarked ? Runner : Successor;
            if (split)
            {
                head[(next * Hidden) + Marker] = isMarked ? MarkerWeight : -MarkerWeight;
            }
        }

        return head;
    }
}

using Viper.Engine.Tests.Support;
using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Mistral;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// The IDEFICS2 text decoder (Mistral) against transformers 4.42.4 on the tiny model in ../shared/refs/idefics2: from
/// the merged input embeddings of each prompt, the final-norm hidden states, the logits (last 4 positions; argmax and
/// logsumexp at every position), then greedy decoding through the KV cache with the reference's repetition penalty,
/// compared up to the first step whose recorded top-1/top-2 margin is under 1e-2. f32, atol 1e-4 + rtol 1e-4·|ref|.
/// </summary>
public class MistralTextTests
{
    [Theory]
    [MemberData(nameof(Idefics2Refs.BackendsAndPrompts), MemberType = typeof(Idefics2Refs))]
    public void PrefillLogitsAndGreedyDecodeMatchTransformers(string backend, string prompt)
    {
        using var outputs = Idefics2Refs.Outputs();
        using var inputs = Idefics2Refs.Inputs();
        using IBackend b = TestBackends.Create(backend);
        using WeightStore store = WeightStore.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors"));
        var weights = new CheckpointWeights(store, b, DType.F32);
        MistralConfig config = MistralConfig.Load(Path.Combine(Idefics2Refs.Folder, "config.json"));
        using var model = new MistralModel(weights.Root["model"]["text_model"], config);
        using var lmHead = new Linear(weights.Root["lm_head"], config.HiddenSize, config.VocabSize, bias: false);

        string embeddingsName = $"{prompt}_text_hidden_states_0";
        int tokens = outputs.Shape(embeddingsName)[1];
        long[] expectedIds = outputs.Longs($"{prompt}_generated_ids");
        using var cache = new MistralKvCache(b, config, batch: 1, capacity: tokens + expectedIds.Length, DType.F32);
        using Tensor embeddings = b.FromFloats(outputs.Floats(embeddingsName), new Shape(1, tokens, config.HiddenSize));
        using Tensor hidden = model.Forward(b, embeddings, cache);
        Tolerance.Close(outputs.Floats($"{prompt}_text_last_hidden_state"), hidden.ToFloats(), 1e-4f, 1e-4f, "last_hidden_state");

        using Tensor logits = lmHead.Forward(b, hidden);
        float[] all = logits.ToFloats();
        int vocab = config.VocabSize;
        Tolerance.Close(outputs.Floats($"{prompt}_logits_last4"), all.AsSpan((tokens - 4) * vocab), 1e-4f, 1e-4f, "logits of the last 4 positions");
        long[] argmax = outputs.Longs($"{prompt}_logits_argmax");
        float[] logsumexp = outputs.Floats($"{prompt}_logits_logsumexp");
        for (int t = 0; t < tokens; t++)
        {
            float[] row = all.AsSpan(t * vocab, vocab).ToArray();
            Assert.Equal(argmax[t], (long)System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row));
            float top = row[(int)argmax[t]];
            double lse = Math.Log(row.Sum(v => Math.Exp(v - top))) + top;
            Assert.True(Math.Abs(lse - logsumexp[t]) <= 1e-4 + (1e-4 * Math.Abs(logsumexp[t])), $"logsumexp at {t}: {lse} vs {logsumexp[t]}");
        }

        float penalty = prompt == "vpe" ? 0.99f : 1f; // README.json: generate(repetition_penalty=…) per prompt
        List<int> sequence = [.. Idefics2Refs.InputIds(inputs, prompt)];
        float[] margins = outputs.Floats($"{prompt}_generated_top1_minus_top2");
        Tensor next = b.Narrow(logits, 1, tokens - 1, 1).ReshapeInto(1, vocab);
        for (int step = 0; step < expectedIds.Length; step++)
        {
            int chosen;
            using (next)
            using (Tensor ids = b.FromInts([.. sequence], new Shape(1, sequence.Count)))
            using (Tensor penalised = b.Decoding().RepetitionPenalty(next, ids, penalty))
            using (Tensor best = b.Decoding().Argmax(penalised))
            {
                chosen = best.ToInts()[0];
            }

            Assert.Equal(expectedIds[step], chosen);
            if (margins[step] < 1e-2f || step == expectedIds.Length - 1)
            {
                break; // a near-tie: the next ids may legitimately differ
            }

            sequence.Add(chosen);
            using Tensor id = b.FromInts([chosen], new Shape(1, 1));
            using Tensor embedded = model.Embed(b, id);
            using Tensor h = model.Forward(b, embedded, cache);
            next = lmHead.Forward(b, h).ReshapeInto(1, vocab);
        }
    }
}

using Viper.Engine.Tests.Support;
using Viper.Models.Loading;
using Viper.Models.Mistral;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Models;

/// <summary>
/// Mistral's sliding window (transformers 4.42: key j hidden from position p when j ≤ p − window) on the tiny decoder
/// with a window of 4 over 10 tokens: one prefill, a prefill continued after a cached prefix, and token-by-token decoding
/// read the window through three different mask paths and must agree; a window as long as the text changes nothing, a
/// shorter one changes the result.
/// </summary>
public class MistralSlidingWindowTests
{
    private const int Tokens = 10;

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void EveryPathReadsTheSameWindow(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        float[] whole = Run(b, window: 4, chunks: [Tokens]);
        Tolerance.Close(whole, Run(b, window: 4, chunks: [6, 4]), 1e-5f, 1e-5f, "prefill continued after a cached prefix");
        Tolerance.Close(whole, Run(b, window: 4, chunks: [.. Enumerable.Repeat(1, Tokens)]), 1e-5f, 1e-5f, "token-by-token decode");
        Tolerance.Close(Run(b, window: null, chunks: [Tokens]), Run(b, window: Tokens, chunks: [Tokens]), 1e-6f, 0f, "a window as long as the text");
        Assert.True(Tolerance.MaxAbsError(whole, Run(b, window: null, chunks: [Tokens])) > 1e-3, "a 4-token window must change the last positions");
    }

    // Hidden states of all positions, the embeddings fed in chunks of the given sizes through one cache.
    private static float[] Run(IBackend b, int? window, int[] chunks)
    {
        using WeightStore store = WeightStore.Open(Path.Combine(Idefics2Refs.Folder, "model.safetensors"));
        MistralConfig config = MistralConfig.Load(Path.Combine(Idefics2Refs.Folder, "config.json")) with { SlidingWindow = window };
        using var model = new MistralModel(new CheckpointWeights(store, b, DType.F32).Root["model"]["text_model"], config);
        using var cache = new MistralKvCache(b, config, batch: 1, capacity: Tokens, DType.F32);
        var rng = new Random(4);
        float[] embeddings = [.. Enumerable.Range(0, Tokens * config.HiddenSize).Select(_ => rng.NextSingle() - 0.5f)];
        var states = new List<float>();
        int start = 0;
        foreach (int count in chunks)
        {
            using Tensor chunk = b.FromFloats(embeddings.AsSpan(start * config.HiddenSize, count * config.HiddenSize), new Shape(1, count, config.HiddenSize));
            using Tensor hidden = model.Forward(b, chunk, cache);
            states.AddRange(hidden.ToFloats());
            start += count;
        }

        return [.. states];
    }
}

using Viper.Backends.Cpu;
using Viper.Models.Layers;
using Viper.Models.Mistral;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// A Mistral-7B-shaped decoder (hidden 4096, MLP 14336, 32 query / 8 key-value heads, the 32000-token head) of
/// <c>layers</c> layers with random bf16 weights on the CPU backend — the linear layers' weights in
/// <c>linearWeights</c>' format when given — and the two things a chat does with it: prefill a prompt, decode one token.
/// benchmarks/torch/bench_cpu_mistral.py builds the same stack in PyTorch; <see cref="GgufWriter"/> writes it for llama.cpp.
/// </summary>
internal sealed class MistralStack : IDisposable
{
    private readonly MistralModel _model;
    private readonly Linear _lmHead;
    private readonly MistralKvCache _cache;
    private readonly Tensor _prompt;
    private readonly Tensor _nextToken;

    public MistralStack(CpuBackend backend, int layers, int promptTokens, DType? linearWeights = null)
    {
        Backend = backend;
        Config = new MistralConfig { NumHiddenLayers = layers };
        Weights = new TiledRandomWeights(backend, DType.BF16, linearWeights);
        _model = new MistralModel(Weights.Root["model"], Config);
        _lmHead = new Linear(Weights.Root["lm_head"], Config.HiddenSize, Config.VocabSize, bias: false);
        WeightBytes = Weights.Parameters.Names.Sum(n => Weights.Parameters[n].SizeInBytes);
        StreamedBytes = WeightBytes - Weights.Parameters["model.embed_tokens.weight"].SizeInBytes;
        _cache = new MistralKvCache(backend, Config, batch: 1, capacity: promptTokens + 1, DType.BF16);
        var rng = new Random(3);
        int[] ids = [.. Enumerable.Range(0, promptTokens + 1).Select(_ => rng.Next(Config.VocabSize))];
        using Tensor promptIds = backend.FromInts(ids.AsSpan(0, promptTokens), new Shape(1, promptTokens));
        using Tensor nextId = backend.FromInts(ids.AsSpan(promptTokens), new Shape(1, 1));
        _prompt = _model.Embed(backend, promptIds);
        _nextToken = _model.Embed(backend, nextId);
        PromptTokens = promptTokens;
    }

    public CpuBackend Backend { get; }

    public MistralConfig Config { get; }

    /// <summary>Every parameter's bytes as held (linear weights in their format, scales included).</summary>
    public long WeightBytes { get; }

    /// <summary>The bytes one decode step reads: every parameter but the embedding table, of which it gathers one row.</summary>
    public long StreamedBytes { get; }

    /// <summary>The parameters, by checkpoint name, for writing the same stack elsewhere (GGUF).</summary>
    public TiledRandomWeights Weights { get; }

    public int PromptTokens { get; }

    /// <summary>The prompt from an empty cache, then the logits of its last position.</summary>
    public void Prefill()
    {
        _cache.Truncate(0);
        using Tensor hidden = _model.Forward(Backend, _prompt, _cache);
        using Tensor last = Backend.Narrow(hidden, 1, PromptTokens - 1, 1);
        _lmHead.Forward(Backend, last).Dispose();
    }

    /// <summary>One token after the prompt (which must have been prefilled) and its logits.</summary>
    public void Decode()
    {
        _cache.Truncate(PromptTokens);
        using Tensor hidden = _model.Forward(Backend, _nextToken, _cache);
        _lmHead.Forward(Backend, hidden).Dispose();
    }

    public void Dispose()
    {
        _prompt.Dispose();
        _nextToken.Dispose();
        _cache.Dispose();
        _lmHead.Dispose();
        _model.Dispose();
    }
}

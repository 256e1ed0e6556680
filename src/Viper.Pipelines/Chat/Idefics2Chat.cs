using System.Diagnostics;
using System.Text.Json;
using Viper.Imaging;
using Viper.Models.Adapters;
using Viper.Models.Idefics2;
using Viper.Models.Loading;
using Viper.Models.Mistral;
using Viper.Models.Tokenizers;
using Viper.Runtime;

namespace Viper.Pipelines.Chat;

/// <summary>
/// IDEFICS2 as a chat model: the folder's tokenizer, image processor and generation config around the model, a prompt
/// (verbatim, or rendered from messages by the chat template) with its images turned into ids and pixels, a prefill
/// that can be continued several times, and greedy decoding streamed token by token.
/// </summary>
public sealed class Idefics2Chat : IDisposable
{
    private readonly IDisposable? _attachedAdapter;

    private Idefics2Chat(Idefics2ForConditionalGeneration model, MistralTokenizer tokenizer, Idefics2ImageProcessor processor,
        GenerationConfig generation, int imageSequenceLength, IDisposable? attachedAdapter)
    {
        (Model, Tokenizer, Processor, Generation, ImageSequenceLength) = (model, tokenizer, processor, generation, imageSequenceLength);
        _attachedAdapter = attachedAdapter;
    }

    public Idefics2ForConditionalGeneration Model { get; }

    public MistralTokenizer Tokenizer { get; }

    public Idefics2ImageProcessor Processor { get; }

    public GenerationConfig Generation { get; }

    /// <summary>Image tokens per image in the prompt (processor_config.json's image_seq_len, the perceiver's latents).</summary>
    public int ImageSequenceLength { get; }

    /// <summary>
    /// Loads a Hugging Face IDEFICS2 folder (config, weights, tokenizer, preprocessor/processor/generation configs), with a
    /// PEFT LoRA adapter merged in (or attached unmerged) and the image settings replaced when <paramref name="options"/> say so.
    /// Reports the "load" stage in thousandths of the checkpoint's bytes; cancelling stops between tensors and releases them.
    /// </summary>
    public static Idefics2Chat Load(string folder, IBackend backend, DType dtype, ChatLoadOptions? options = null,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new ChatLoadOptions();
        MistralTokenizer tokenizer = MistralTokenizer.Load(folder);
        string preprocessor = Path.Combine(folder, "preprocessor_config.json");
        Idefics2ImageProcessor images = File.Exists(preprocessor) ? Idefics2ImageProcessor.Load(preprocessor) : new Idefics2ImageProcessor();
        images = options.Processor?.Invoke(images) ?? images;
        Idefics2Config config = Idefics2Config.Load(Path.Combine(folder, "config.json"));
        int imageSequenceLength = ImageSequenceLengthOf(folder) ?? config.ImageSequenceLength;
        if (imageSequenceLength != config.ImageSequenceLength)
        {
            throw new InvalidDataException(
                $"{folder}: processor_config.json's image_seq_len {imageSequenceLength} differs from the perceiver's {config.ImageSequenceLength} latents");
        }

        foreach (string token in new[] { Idefics2Prompt.ImageToken, Idefics2Prompt.FakeImageToken, Idefics2Prompt.EndOfUtterance })
        {
            _ = tokenizer.TokenId(token); // the added tokens must be there before any weights are read
        }

        GenerationConfig generation = GenerationConfig.Load(folder, tokenizer.EosId);
        using PeftLoraAdapter? adapter = options.AdapterFolder is { } adapterFolder ? PeftLoraAdapter.Load(adapterFolder) : null;
        var model = Idefics2ForConditionalGeneration.Load(folder, backend, dtype, weights =>
        {
            if (adapter is null)
            {
                return weights;
            }

            var checkpoint = (CheckpointWeights)weights;
            adapter.CheckAgainst(checkpoint.Store); // before any tensor is read
            return options.KeepAdapterUnmerged ? adapter.ReplaceSavedModules(checkpoint) : adapter.Merge(checkpoint);
        }, progress is null ? null : new SynchronousProgress<LoadProgress>(p => progress.Report(LoadStage(p.BytesRead, p.TotalBytes))), cancellationToken,
            options.LinearWeights);
        progress?.Report(LoadStage(1, 1));
        try
        {
            IDisposable? attached = adapter is not null && options.KeepAdapterUnmerged ? adapter.Attach(model.Parameters, backend, dtype) : null;
            return new Idefics2Chat(model, tokenizer, images, generation, imageSequenceLength, attached);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static GenerationProgress LoadStage(long read, long total) => new("load", (int)(1000 * read / Math.Max(total, 1)), 1000);

    /// <summary>
    /// A chat over a model built elsewhere — from another weight source (random weights at the real shape, for a
    /// benchmark) or a model the host loaded itself. The chat owns <paramref name="model"/> and disposes it.
    /// </summary>
    public static Idefics2Chat Create(Idefics2ForConditionalGeneration model, MistralTokenizer tokenizer, Idefics2ImageProcessor processor,
        GenerationConfig generation) =>
        new(model, tokenizer, processor, generation, model.Config.ImageSequenceLength, attachedAdapter: null);

    /// <summary>
    /// Ids and pixels for a prompt: one <c>&lt;image&gt;</c> in the text per image, in order (the chat template writes
    /// them; a verbatim prompt carries its own).
    /// </summary>
    public ChatPrompt Prepare(string prompt, IReadOnlyList<RgbImage> images)
    {
        int asked = Idefics2Prompt.CountImages(prompt);
        if (asked != images.Count)
        {
            throw new ArgumentException($"the prompt has {asked} <image> tokens for {images.Count} images: give one image per <image>, in order");
        }

        ProcessedImages? pixels = images.Count == 0 ? null : Processor.Process(images);
        string expanded = Idefics2Prompt.ExpandImages(prompt, ImageSequenceLength, Processor.DoImageSplitting);
        return new ChatPrompt(Tokenizer.Encode(expanded), pixels);
    }

    /// <summary>Runs the prompt once; the returned session decodes from it (again and again) with <see cref="ChatSession.Generate"/>.</summary>
    public ChatSession Prefill(ChatPrompt prompt, int maxNewTokens, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        var clock = Stopwatch.StartNew();
        var cache = Model.NewCache(prompt.Ids.Count + maxNewTokens);
        try
        {
            using Tensor hidden = Forward(prompt, cache, cancellationToken);
            using Tensor last = Model.Backend.Narrow(hidden, 1, prompt.Ids.Count - 1, 1);
            using Tensor logits = Model.Logits(last);
            return new ChatSession(this, cache, prompt.Ids, logits.ToFloats(), clock.Elapsed);
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The prompt's ids and images through the model after the cache's filled positions (an empty cache, or a context
    /// a continuation follows): image states, the merged embeddings, the decoder → final hidden states (1, T, C).
    /// </summary>
    internal Tensor Forward(ChatPrompt prompt, MistralKvCache cache, CancellationToken cancellationToken)
    {
        using Tensor? states = prompt.Images is { } p
            ? Model.ImageStates(new Idefics2Images(p.PixelValues, p.PixelMask, p.Count, p.Height, p.Width), cancellationToken)
            : null;
        using Tensor embeddings = Model.MergedEmbeddings(prompt.Ids, states);
        return Model.Forward(embeddings, cache, cancellationToken);
    }

    /// <summary>
    /// The logits (vocab) at each of <paramref name="positions"/> of the prompt (0-based token positions; negative counts
    /// from the end) — what a scorer reads, e.g. the log-likelihood of given answer tokens.
    /// </summary>
    public IReadOnlyList<float[]> PositionLogits(ChatPrompt prompt, IReadOnlyList<int> positions, CancellationToken cancellationToken = default)
    {
        int count = prompt.Ids.Count;
        int[] at = [.. positions.Select(p => p < 0 ? count + p : p)];
        if (at.FirstOrDefault(p => p < 0 || p >= count, -1) is var bad && bad != -1)
        {
            throw new ArgumentOutOfRangeException(nameof(positions), $"position {bad} is outside the prompt's {count} tokens");
        }

        using MistralKvCache cache = Model.NewCache(count);
        using Tensor hidden = Forward(prompt, cache, cancellationToken);
        return [.. at.Select(position =>
        {
            using Tensor row = Model.Backend.Narrow(hidden, 1, position, 1);
            using Tensor logits = Model.Logits(row);
            return logits.ToFloats();
        })];
    }

    public void Dispose()
    {
        _attachedAdapter?.Dispose();
        Model.Dispose();
    }

    private static int? ImageSequenceLengthOf(string folder)
    {
        string path = Path.Combine(folder, "processor_config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.TryGetProperty("image_seq_len", out JsonElement length) ? length.GetInt32() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: image_seq_len must be an integer in a JSON object ({e.Message})", e);
        }
    }
}

/// <summary>How <see cref="Idefics2Chat.Load"/> sets the model up beyond the folder's own files.</summary>
public sealed record ChatLoadOptions
{
    /// <summary>Replaces the folder's image settings (ViPer: longest 448, shortest 378, no splitting).</summary>
    public Func<Idefics2ImageProcessor, Idefics2ImageProcessor>? Processor { get; init; }

    /// <summary>A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors), merged at load unless kept unmerged.</summary>
    public string? AdapterFolder { get; init; }

    /// <summary>Attach the adapter to the linear layers instead of merging it (the base weights stay as stored).</summary>
    public bool KeepAdapterUnmerged { get; init; }

    /// <summary>The format the linear layers' weights are kept in: int8, fp8, q8_0, q4_0 or a float dtype (null: the compute dtype).</summary>
    public DType? LinearWeights { get; init; }
}

/// <summary>A prompt ready for the model: token ids (images expanded) and the processed images.</summary>
public sealed record ChatPrompt(IReadOnlyList<int> Ids, ProcessedImages? Images);

using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Mistral;
using Viper.Runtime;

namespace Viper.Models.Idefics2;

/// <summary>
/// transformers Idefics2ForConditionalGeneration: <c>model.vision_model</c>, <c>model.connector</c>,
/// <c>model.text_model</c> and <c>lm_head</c>. Images become <see cref="Idefics2Config.ImageSequenceLength"/> states each,
/// which replace the embeddings of the <c>&lt;image&gt;</c> tokens in order; the text model then runs over the merged
/// sequence with a KV cache.
/// </summary>
public sealed class Idefics2ForConditionalGeneration : Module
{
    private readonly Idefics2VisionTransformer _visionModel;
    private readonly Idefics2Connector _connector;
    private readonly MistralModel _textModel;
    private readonly Linear _lmHead;

    public Idefics2ForConditionalGeneration(WeightScope root, Idefics2Config config)
    {
        Config = config;
        _visionModel = Own(new Idefics2VisionTransformer(root["model"]["vision_model"], config.Vision));
        _connector = Own(new Idefics2Connector(root["model"]["connector"], config));
        _textModel = Own(new MistralModel(root["model"]["text_model"], config.Text));
        _lmHead = Own(new Linear(root["lm_head"], config.Text.HiddenSize, config.Text.VocabSize, bias: false));
        Backend = root.Backend;
        DType = root.DType;
        Parameters = Own(root.Source.Parameters);
    }

    public Idefics2Config Config { get; }

    public IBackend Backend { get; }

    /// <summary>The compute dtype (the weights' on the backend).</summary>
    public DType DType { get; }

    /// <summary>Every parameter loaded, by its checkpoint name (adapters attach by these names).</summary>
    public ParameterSet Parameters { get; }

    /// <summary>
    /// Loads a Hugging Face folder: config.json and model.safetensors (or its sharded index). <paramref name="decorate"/>
    /// wraps the checkpoint's weight source (a LoRA merge: <see cref="TransformedWeights"/>). The load reports the bytes
    /// read and can be cancelled between tensors; a load that fails or is cancelled releases what it had read.
    /// </summary>
    public static Idefics2ForConditionalGeneration Load(string folder, IBackend backend, DType dtype, Func<WeightSource, WeightSource>? decorate = null,
        IProgress<LoadProgress>? progress = null, CancellationToken cancellationToken = default, DType? linearWeights = null)
    {
        _ = backend.Decoding(); // refused now, not at the first token, on a backend without the op group
        Idefics2Config config = Idefics2Config.Load(Path.Combine(folder, "config.json"));
        return CheckpointFiles.Build(folder, "model", null, store =>
        {
            MemoryFit.Check(store, backend, dtype, linearWeights);
            WeightSource checkpoint = new CheckpointWeights(store, backend, dtype, progress, cancellationToken, linearWeights);
            WeightSource weights = decorate?.Invoke(checkpoint) ?? checkpoint;
            try
            {
                return new Idefics2ForConditionalGeneration(weights.Root, config);
            }
            catch
            {
                foreach (string name in weights.Parameters.Names)
                {
                    weights.Parameters[name].Dispose(); // read before the failure, owned by no model yet
                }

                throw;
            }
        });
    }

    /// <summary>The connector's output for each real image (images, latents, C), as get_image_features computes it.</summary>
    public Tensor ImageStates(Idefics2Images images, CancellationToken cancellationToken = default)
    {
        Idefics2Images real = images.WithoutPaddingImages();
        if (real.Count == 0)
        {
            throw new ArgumentException("idefics2: every image is padding (all pixel values 0)");
        }

        var grid = PatchGrid.FromPixelMask(real.PixelMask, real.Count, real.Height, real.Width, Config.Vision.PatchSize);
        using Tensor pixels = Backend.FromFloats(real.ToNhwc(), new Shape(real.Count, real.Height, real.Width, real.Channels), DType);
        using Tensor vision = _visionModel.Forward(Backend, pixels, grid, cancellationToken);
        return _connector.Forward(Backend, vision, grid);
    }

    /// <summary>
    /// inputs_embeds for one sequence of ids (1, T, C): token embeddings, the <c>&lt;image&gt;</c> positions replaced by
    /// <paramref name="imageStates"/> (images, latents, C) in order (Idefics2Model.inputs_merger).
    /// </summary>
    public Tensor MergedEmbeddings(IReadOnlyList<int> ids, Tensor? imageStates)
    {
        int[] imagePositions = [.. Enumerable.Range(0, ids.Count).Where(i => ids[i] == Config.ImageTokenId)];
        int available = imageStates is null ? 0 : imageStates.Shape[0] * imageStates.Shape[1];
        if (imagePositions.Length != available)
        {
            throw new ArgumentException(
                $"idefics2: the prompt has {imagePositions.Length} <image> tokens but the images give {available} states " +
                $"({Config.ImageSequenceLength} per image): one <image> in the text per image, expanded by the processor");
        }

        Tensor tokens = Embed(ids);
        if (imageStates is null || available == 0)
        {
            return tokens;
        }

        List<Tensor> parts = Splice(tokens, imageStates.Reshape(1, available, Config.Text.HiddenSize), imagePositions);
        try
        {
            return Backend.Concat(parts, 1);
        }
        finally
        {
            parts.ForEach(p => p.Dispose());
            tokens.Dispose();
        }
    }

    /// <summary>Runs embeddings (1, T, C) after the cache's filled positions → final-norm hidden states (1, T, C).</summary>
    public Tensor Forward(Tensor embeddings, MistralKvCache cache, CancellationToken cancellationToken = default) =>
        _textModel.Forward(Backend, embeddings, cache, cancellationToken);

    /// <summary>Token embeddings (1, T, C) of text ids (decode steps).</summary>
    public Tensor Embed(IReadOnlyList<int> ids)
    {
        using Tensor idTensor = Backend.FromInts([.. ids], new Shape(1, ids.Count));
        return _textModel.Embed(Backend, idTensor);
    }

    /// <summary>Token embeddings of ids already on the device (I32 (1, T)), e.g. a recorded decode step's input.</summary>
    public Tensor Embed(Tensor ids) => _textModel.Embed(Backend, ids);

    /// <summary>One decode token at a caller-owned step's position (see <see cref="MistralModel.Forward(IBackend, Tensor, MistralKvCache, MistralStep)"/>).</summary>
    public Tensor Forward(Tensor embeddings, MistralKvCache cache, MistralStep step) => _textModel.Forward(Backend, embeddings, cache, step);

    /// <summary>lm_head: hidden states (…, C) → logits (…, vocab).</summary>
    public Tensor Logits(Tensor hidden) => _lmHead.Forward(Backend, hidden);

    /// <summary>A cache for one sequence of up to <paramref name="capacity"/> tokens in this model's dtype.</summary>
    public MistralKvCache NewCache(int capacity) => new(Backend, Config.Text, batch: 1, capacity, DType);

    // Runs of text embeddings and image rows in sequence order (copies the caller disposes after concatenating them).
    private List<Tensor> Splice(Tensor tokens, Tensor rows, int[] imagePositions)
    {
        var parts = new List<Tensor>();
        int next = 0, row = 0;
        foreach (int[] run in Runs(imagePositions))
        {
            if (run[0] > next)
            {
                parts.Add(Backend.Narrow(tokens, 1, next, run[0] - next));
            }

            parts.Add(Backend.Narrow(rows, 1, row, run.Length));
            row += run.Length;
            next = run[^1] + 1;
        }

        if (next < tokens.Shape[1])
        {
            parts.Add(Backend.Narrow(tokens, 1, next, tokens.Shape[1] - next));
        }

        return parts;
    }

    private static IEnumerable<int[]> Runs(int[] positions)
    {
        int start = 0;
        for (int i = 1; i <= positions.Length; i++)
        {
            if (i == positions.Length || positions[i] != positions[i - 1] + 1)
            {
                yield return positions[start..i];
                start = i;
            }
        }
    }
}

using Viper.Models.Idefics2;
using Viper.Models.Mistral;
using Viper.Runtime;

namespace Viper.Pipelines.Chat;

/// <summary>
/// One decode token — embedding, every decoder layer with its cache write, the final norm and the LM head — recorded once
/// as a device graph and replayed for each new token: the token id, its position, the cache write positions and the key
/// lengths live in device tensors that are rewritten in place before each replay, so no op is launched one by one and
/// nothing but the logits comes back.
/// </summary>
internal sealed class DecodeGraph : IDisposable
{
    private readonly IGraphCapture _device;
    private readonly MistralKvCache _cache;
    private readonly MistralStep _step;
    private readonly Tensor _id;
    private readonly ICapturedWork _graph;
    private Tensor? _logits;

    private DecodeGraph(IGraphCapture device, Idefics2ForConditionalGeneration model, MistralKvCache cache, MistralStep step)
    {
        (_device, _cache, _step) = (device, cache, step);
        _id = model.Backend.FromInts([0], new Shape(1, 1));
        _graph = device.Capture(() =>
        {
            using Tensor embedded = model.Embed(_id);
            using Tensor hidden = model.Forward(embedded, cache, step);
            _logits = model.Logits(hidden);
        });
    }

    /// <summary>A recorded decode step, or null when the backend cannot record graphs or the sliding window could apply.</summary>
    public static DecodeGraph? TryCreate(Idefics2ForConditionalGeneration model, MistralKvCache cache)
    {
        if (model.Backend is not IGraphCapture device || MistralStep.Decoding(model.Backend, model.Config.Text, cache) is not { } step)
        {
            return null;
        }

        try
        {
            return new DecodeGraph(device, model, cache, step);
        }
        catch
        {
            step.Dispose();
            throw;
        }
    }

    /// <summary>Runs token <paramref name="id"/> at the cache's current length and returns its logits (vocab).</summary>
    public float[] Step(int id)
    {
        int position = _cache.Length;
        _step.MoveTo(_device, _cache, position);
        _device.CopyFromHost(_id, HostTensors.EncodeInts([id]));
        _graph.Replay();
        _cache.Advance(1);
        return _logits!.ToFloats();
    }

    public void Dispose()
    {
        _graph.Dispose(); // the graph owns the memory of the tensors recorded inside it, the logits among them
        _id.Dispose();
        _step.Dispose();
    }
}

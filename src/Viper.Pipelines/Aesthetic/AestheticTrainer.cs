using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Pipelines.Aesthetic;

/// <summary>
/// One prompt's aesthetic-gradients personalization, step by step, as the released method does it
/// (vicgalle/stable-diffusion-aesthetic-gradients, ldm/modules/encoders/modules.py, PersonalizedCLIPEmbedder.forward):
/// the aesthetic embedding is normalised; loss = −cos(text_embeds, image_embeds) with text_embeds the normalised
/// <c>text_projection</c> of the pooled output; Adam (β 0.9/0.999, eps 1e-8) over every <c>text_model</c> parameter —
/// not <c>text_projection</c> — with f32 master weights and moments whatever dtype the model runs in.
/// Parameters are updated in place in the CLIP model given (its own, not Stable Diffusion's text encoder) and put back bit
/// for bit on <see cref="Dispose"/>, so the next prompt starts from the original weights. The token table is trained
/// through the rows of the prompt's ids only (<see cref="TokenRows"/>: the same result, without a 150 MB table copy).
/// An f16 model's gradients would flush to zero below 2⁻²⁴ (the text model's are often that small), so they are computed
/// with dynamic loss scaling, as torch.cuda.amp.GradScaler does: the loss is scaled by <see cref="LossScale"/> (from 2¹⁵),
/// a step whose scaled gradients overflow is skipped and retried at half the scale, and Adam takes the gradients
/// unscaled in f32. f32 and bf16 (f32's exponent range) models take the gradients as they are.
/// Not thread-safe: one personalization at a time per CLIP model.
/// </summary>
public sealed class AestheticTrainer : IDisposable
{
    /// <summary>The parameters the method trains: the text model's, not text_projection.</summary>
    private const string TrainedPrefix = "text_model.";

    private readonly ClipTextModel _clip;
    private readonly IBackend _b;
    private readonly ITrainingOps _training;
    private readonly int[] _ids;
    private readonly float[] _image;
    private readonly double _learningRate;
    private readonly CancellationToken _cancellationToken;
    private readonly List<(Tensor Master, Tensor M, Tensor V, Tensor Live, string Name)> _state = [];
    private readonly TokenRows _rows;
    private TrainingPass? _pass;
    private Tensor? _textEmbeds;
    private Gradients? _gradients;
    private const float InitialLossScale = 32768f;

    /// <param name="normalizeTarget">
    /// Normalise the target as the released code does (false: use it as given — the A1111 extension's slerped target,
    /// whose length only scales the loss).
    /// </param>
    public AestheticTrainer(ClipTextModel clip, int[] ids, ReadOnlySpan<float> aestheticEmbedding, double learningRate,
        CancellationToken cancellationToken = default, bool normalizeTarget = true)
    {
        if (clip.TextProjection is not { } projection)
        {
            throw new ArgumentException("aesthetic gradients need the CLIP model's text_projection (a full CLIP folder such as openai/clip-vit-large-patch14)", nameof(clip));
        }

        if (aestheticEmbedding.Length != projection.OutFeatures)
        {
            throw new ArgumentException($"the aesthetic embedding has {aestheticEmbedding.Length} values; this CLIP model projects to {projection.OutFeatures}", nameof(aestheticEmbedding));
        }

        if (!(learningRate > 0) || double.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the learning rate must be a positive number");
        }

        (_clip, _b, _ids, _learningRate, _cancellationToken) = (clip, clip.Backend, ids, learningRate, cancellationToken);
        _training = _b.Training(); // refused before any work on a backend without the op group
        _image = normalizeTarget ? Normalized(aestheticEmbedding) : aestheticEmbedding.ToArray();
        LossScale = clip.TextModel.Embeddings.TokenTable.DType == DType.F16 ? InitialLossScale : 1f;
        ParameterSet parameters = clip.Parameters;
        string tokenName = clip.TextModel.Embeddings.TokenWeightName;
        int[] distinct = ids.Distinct().ToArray();
        using (Tensor idTensor = _b.FromInts(distinct, new Shape(distinct.Length)))
        {
            _rows = new TokenRows(distinct, _b.Embedding(clip.TextModel.Embeddings.TokenTable, idTensor));
        }

        try
        {
            Track(tokenName, _rows.Rows);
            foreach (string name in parameters.Names.Where(n => n.StartsWith(TrainedPrefix, StringComparison.Ordinal) && n != tokenName))
            {
                Track(name, parameters.Edit(name));
            }

            Forward();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The parameter names trained (the token table's stands for the prompt's rows of it).</summary>
    public IEnumerable<string> ParameterNames => _state.Select(s => s.Name);

    /// <summary>The token ids whose rows of the token table are trained, in the order of <see cref="TokenRows"/>.</summary>
    public IReadOnlyList<int> TokenIds => _rows.Ids;

    /// <summary>The current values of the trained token rows (distinct ids, C) in the model's dtype.</summary>
    public Tensor TokenRowValues => _rows.Rows;

    /// <summary>−cos(text_embeds, aesthetic embedding) for the current parameters.</summary>
    public float Loss { get; private set; }

    /// <summary>Adam steps taken so far.</summary>
    public int StepsTaken { get; private set; }

    /// <summary>The factor the loss's gradient is scaled by before the backward pass (1 unless the model is f16); <see cref="Gradients"/> are scaled by it.</summary>
    public float LossScale { get; private set; } = 1f;

    /// <summary>Steps retried at half the loss scale because the scaled gradients overflowed.</summary>
    public int SkippedSteps { get; private set; }

    /// <summary>text_model(ids).last_hidden_state (1, T, C) for the current parameters (owned by the trainer).</summary>
    public Tensor LastHiddenState => _pass!.LastHiddenState;

    /// <summary>d loss / d parameter for the current parameters, by name (computed once per step; owned by the trainer).</summary>
    public Gradients Gradients()
    {
        if (_gradients is not null)
        {
            return _gradients;
        }

        var grads = new Gradients(name => name.StartsWith(TrainedPrefix, StringComparison.Ordinal));
        try
        {
            // loss = −t̂·î: d loss / d t̂ = −î, then through the normalisation, text_projection (frozen) and the text model.
            float scale = LossScale;
            using Tensor dNormalized = _b.FromFloats(_image.Select(v => -v * scale).ToArray(), _textEmbeds!.Shape, _textEmbeds.DType);
            using Tensor dEmbeds = _training.L2NormalizeBackward(_textEmbeds, dNormalized);
            using Tensor dPooled = _clip.TextProjection!.Backward(_b, _pass!.Pooled, dEmbeds, grads)!;
            _clip.TextModel.Backward(_b, _pass, dPooled, grads, _cancellationToken);
        }
        catch
        {
            grads.Dispose();
            throw;
        }

        return _gradients = grads;
    }

    /// <summary>One Adam step from the current gradients, then the forward again (a new <see cref="Loss"/>).</summary>
    public void Step()
    {
        _cancellationToken.ThrowIfCancellationRequested();
        Gradients grads = Gradients();
        while (LossScale > 1f && !Finite(grads))
        {
            // GradScaler's skipped step: the scaled gradients overflowed f16, so this step is taken again at half the scale.
            SkippedSteps++;
            LossScale /= 2;
            _gradients!.Dispose();
            _gradients = null;
            grads = Gradients();
        }

        var adam = new AdamStep(_learningRate, StepsTaken + 1);
        foreach ((Tensor master, Tensor m, Tensor v, Tensor live, string name) in _state)
        {
            if (LossScale == 1f)
            {
                _training.AdamUpdate(master, m, v, grads[name], live, adam);
                continue;
            }

            using (Tensor wide = _b.Cast(grads[name], DType.F32))
            using (Tensor unscaled = _b.Scale(wide, 1f / LossScale)) // a power of two: exact
            {
                _training.AdamUpdate(master, m, v, unscaled, null, adam);
            }

            using Tensor rounded = _b.Cast(master, live.DType);
            _b.CopyInto(rounded, live);
        }

        StepsTaken++;
        Forward();
    }

    public void Dispose()
    {
        ReleasePass();
        foreach ((Tensor master, Tensor m, Tensor v, _, _) in _state)
        {
            master.Dispose();
            m.Dispose();
            v.Dispose();
        }

        _state.Clear();
        _rows.Rows.Dispose();
        _clip.Parameters.Restore();
    }

    /// <summary>Whether every scaled gradient is finite: one mean per tensor read back (an inf or NaN anywhere makes it non-finite).</summary>
    private bool Finite(Gradients grads)
    {
        foreach ((_, _, _, Tensor live, string name) in _state)
        {
            Tensor g = grads[name];
            using Tensor wide = _b.Cast(g, DType.F32);
            using Tensor mean = _b.Mean(wide.Reshape(1, (int)g.Shape.ElementCount));
            if (!float.IsFinite(mean.ToFloats()[0]))
            {
                return false;
            }
        }

        return true;
    }

    private void Track(string name, Tensor live) =>
        _state.Add((_b.Cast(live, DType.F32), _b.Allocate(live.Shape, DType.F32), _b.Allocate(live.Shape, DType.F32), live, name));

    private void Forward()
    {
        ReleasePass();
        _pass = _clip.TextModel.ForwardForTraining(_b, [_ids], _rows, _cancellationToken);
        _textEmbeds = _clip.TextProjection!.Forward(_b, _pass.Pooled);
        using Tensor normalized = _b.L2Normalize(_textEmbeds);
        float[] t = normalized.ToFloats();
        float similarity = 0f;
        for (int i = 0; i < t.Length; i++)
        {
            similarity += t[i] * _image[i];
        }

        Loss = -similarity;
    }

    private void ReleasePass()
    {
        _gradients?.Dispose();
        _gradients = null;
        _textEmbeds?.Dispose();
        _textEmbeds = null;
        _pass?.Dispose();
        _pass = null;
    }

    /// <summary>image_embs / image_embs.norm(): the norm in double rounded to f32, then an f32 division, as PyTorch's f32 ops give.</summary>
    public static float[] Normalized(ReadOnlySpan<float> embedding)
    {
        double sq = 0;
        foreach (float v in embedding)
        {
            sq += (double)v * v;
        }

        float norm = (float)Math.Sqrt(sq);
        if (!(norm > 0) || float.IsInfinity(norm))
        {
            throw new ArgumentException("the aesthetic embedding must be finite and not all zeros", nameof(embedding));
        }

        float[] result = new float[embedding.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = embedding[i] / norm;
        }

        return result;
    }
}

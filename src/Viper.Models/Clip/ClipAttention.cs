using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPAttention (<c>self_attn</c>): q/k/v/out projections with biases, scale head_dim^-0.5.</summary>
public sealed class ClipAttention : Module
{
    private readonly Linear _q, _k, _v, _out;
    private readonly AttentionOptions _options;

    public ClipAttention(WeightScope scope, int hidden, int heads, bool causal)
    {
        _q = Own(new Linear(scope["q_proj"], hidden, hidden));
        _k = Own(new Linear(scope["k_proj"], hidden, hidden));
        _v = Own(new Linear(scope["v_proj"], hidden, hidden));
        _out = Own(new Linear(scope["out_proj"], hidden, hidden));
        _options = new AttentionOptions(heads, heads, hidden / heads) { Causal = causal };
    }

    /// <summary>x (B, T, C) → (B, T, C); keys whose <paramref name="keyMask"/> (B, T) entry is 0 are not attended to.</summary>
    public Tensor Forward(IBackend b, Tensor x, Tensor? keyMask = null)
    {
        using Tensor q = _q.Forward(b, x);
        using Tensor k = _k.Forward(b, x);
        using Tensor v = _v.Forward(b, x);
        using Tensor attended = b.Attention(q, k, v, _options with { KeyMask = keyMask });
        return _out.Forward(b, attended);
    }

    /// <summary><see cref="Forward"/> (no key mask) keeping what <see cref="Backward"/> needs.</summary>
    public Tensor ForwardForTraining(IBackend b, Tensor x, out Saved saved)
    {
        Tensor q = _q.Forward(b, x), k = _k.Forward(b, x), v = _v.Forward(b, x);
        Tensor attended = b.Attention(q, k, v, _options);
        saved = new Saved(x, q, k, v, attended);
        return _out.Forward(b, attended);
    }

    /// <summary>dx; the projections' weight gradients into <paramref name="grads"/>. Probabilities are recomputed, not kept.</summary>
    public Tensor Backward(IBackend b, Saved s, Tensor dOut, Gradients grads)
    {
        using Tensor dAttended = _out.Backward(b, s.Attended, dOut, grads)!;
        using AttentionGradients g = b.Training().AttentionBackward(s.Q, s.K, s.V, dAttended, _options);
        using Tensor dq = _q.Backward(b, s.X, g.Dq, grads)!, dk = _k.Backward(b, s.X, g.Dk, grads)!, dv = _v.Backward(b, s.X, g.Dv, grads)!;
        using Tensor qk = b.Add(dq, dk);
        return b.Add(qk, dv);
    }

    /// <summary>A training forward's activations: owns q, k, v and the attended values; x is the caller's.</summary>
    public sealed record Saved(Tensor X, Tensor Q, Tensor K, Tensor V, Tensor Attended) : IDisposable
    {
        public void Dispose()
        {
            Q.Dispose();
            K.Dispose();
            V.Dispose();
            Attended.Dispose();
        }
    }
}

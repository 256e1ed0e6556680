using Viper.Models.Layers;
using Viper.Models.Loading;
using Viper.Models.Training;
using Viper.Runtime;

namespace Viper.Models.Clip;

/// <summary>transformers CLIPEncoderLayer (<c>encoder.layers.N</c>): pre-norm attention and MLP, each with a residual.</summary>
public sealed class ClipEncoderLayer : Module
{
    private readonly LayerNorm _layerNorm1;
    private readonly ClipAttention _selfAttn;
    private readonly LayerNorm _layerNorm2;
    private readonly ClipMlp _mlp;

    public ClipEncoderLayer(WeightScope scope, int hidden, int intermediate, int heads, Activation activation, float eps, bool causal)
    {
        _layerNorm1 = Own(new LayerNorm(scope["layer_norm1"], hidden, eps));
        _selfAttn = Own(new ClipAttention(scope["self_attn"], hidden, heads, causal));
        _layerNorm2 = Own(new LayerNorm(scope["layer_norm2"], hidden, eps));
        _mlp = Own(new ClipMlp(scope["mlp"], hidden, intermediate, activation));
    }

    public Tensor Forward(IBackend b, Tensor x, Tensor? keyMask = null)
    {
        Tensor afterAttention;
        using (Tensor normed = _layerNorm1.Forward(b, x))
        using (Tensor attended = _selfAttn.Forward(b, normed, keyMask))
        {
            afterAttention = b.Add(x, attended);
        }

        using (afterAttention)
        using (Tensor normed = _layerNorm2.Forward(b, afterAttention))
        using (Tensor mlp = _mlp.Forward(b, normed))
        {
            return b.Add(afterAttention, mlp);
        }
    }

    /// <summary><see cref="Forward"/> (no key mask) keeping what <see cref="Backward"/> needs.</summary>
    public Tensor ForwardForTraining(IBackend b, Tensor x, out Saved saved)
    {
        Tensor normed1 = _layerNorm1.Forward(b, x);
        Tensor afterAttention;
        ClipAttention.Saved attention;
        using (Tensor attended = _selfAttn.ForwardForTraining(b, normed1, out attention))
        {
            afterAttention = b.Add(x, attended);
        }

        Tensor normed2 = _layerNorm2.Forward(b, afterAttention);
        using Tensor mlp = _mlp.ForwardForTraining(b, normed2, out ClipMlp.Saved mlpSaved);
        saved = new Saved(x, normed1, attention, afterAttention, normed2, mlpSaved);
        return b.Add(afterAttention, mlp);
    }

    /// <summary>dx through both residual branches (y = a + mlp(ln2(a)), a = x + attn(ln1(x))); weight gradients into grads.</summary>
    public Tensor Backward(IBackend b, Saved s, Tensor dOut, Gradients grads)
    {
        Tensor dAfterAttention;
        using (Tensor dNormed2 = _mlp.Backward(b, s.Mlp, dOut, grads))
        using (Tensor throughNorm = _layerNorm2.Backward(b, s.AfterAttention, dNormed2, grads))
        {
            dAfterAttention = b.Add(dOut, throughNorm);
        }

        using (dAfterAttention)
        using (Tensor dNormed1 = _selfAttn.Backward(b, s.Attention, dAfterAttention, grads))
        using (Tensor throughNorm = _layerNorm1.Backward(b, s.X, dNormed1, grads))
        {
            return b.Add(dAfterAttention, throughNorm);
        }
    }

    /// <summary>A training forward's activations (x is the caller's).</summary>
    public sealed record Saved(Tensor X, Tensor Normed1, ClipAttention.Saved Attention, Tensor AfterAttention, Tensor Normed2, ClipMlp.Saved Mlp)
        : IDisposable
    {
        public void Dispose()
        {
            Normed1.Dispose();
            Attention.Dispose();
            AfterAttention.Dispose();
            Normed2.Dispose();
            Mlp.Dispose();
        }
    }
}

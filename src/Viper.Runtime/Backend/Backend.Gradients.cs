using Viper.Runtime.Training;

namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor EmbeddingBackward(Tensor dy, Tensor ids, int rows)
    {
        Own(dy, ids);
        return Kept(EmbeddingBackwardCore(dy, ids, OpChecks.EmbeddingBackward(dy, ids, rows)), dy, ids);
    }

    public LayerNormGradients LayerNormBackward(Tensor x, Tensor gamma, Tensor dy, float eps)
    {
        Own(x, gamma, dy);
        OpChecks.LayerNormBackward(x, gamma, dy);
        return Kept(LayerNormBackwardCore(x, gamma, dy, eps), x, gamma, dy);
    }

    public AttentionGradients AttentionBackward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options)
    {
        Own(q, k, v, dOut);
        OpChecks.AttentionBackward(q, k, v, dOut, options);
        return Kept(AttentionBackwardCore(q, k, v, dOut, options), q, k, v, dOut, options);
    }

    public Tensor ActivationBackward(Tensor x, Tensor dy, Activation activation)
    {
        Own(x, dy);
        OpChecks.ActivationBackward(x, dy, activation);
        return Kept(ActivationBackwardCore(x, dy, activation), x, dy);
    }

    public Tensor L2NormalizeBackward(Tensor x, Tensor dy, float eps = 1e-12f)
    {
        Own(x, dy);
        OpChecks.L2NormalizeBackward(x, dy);
        return Kept(L2NormalizeBackwardCore(x, dy, eps), x, dy);
    }

    public void AdamUpdate(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step)
    {
        Own(master, m, v, grad, param);
        OpChecks.AdamStep(master, m, v, grad, param, step);
        AdamUpdateCore(master, m, v, grad, param, step);
        KeepAlive(master, m, v, grad, param);
    }

    protected abstract Tensor EmbeddingBackwardCore(Tensor dy, Tensor ids, Shape output);

    protected abstract LayerNormGradients LayerNormBackwardCore(Tensor x, Tensor gamma, Tensor dy, float eps);

    protected abstract AttentionGradients AttentionBackwardCore(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options);

    protected abstract Tensor ActivationBackwardCore(Tensor x, Tensor dy, Activation activation);

    protected abstract Tensor L2NormalizeBackwardCore(Tensor x, Tensor dy, float eps);

    protected abstract void AdamUpdateCore(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step);
}

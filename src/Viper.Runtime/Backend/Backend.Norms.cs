namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu = false, Tensor? add = null)
    {
        Own(x, gamma, beta, add);
        bool addPerChannel = OpChecks.GroupNorm(x, groups, gamma, beta, add);
        return Kept(GroupNormCore(x, groups, gamma, beta, eps, silu, add, addPerChannel), x, gamma, beta, add);
    }

    public Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps)
    {
        Own(x, gamma, beta);
        OpChecks.LastAxisAffine("layer_norm", x, gamma, beta);
        return Kept(LayerNormCore(x, gamma, beta, eps), x, gamma, beta);
    }

    public Tensor RmsNorm(Tensor x, Tensor gamma, float eps)
    {
        Own(x, gamma);
        OpChecks.LastAxisAffine("rms_norm", x, gamma, null);
        return Kept(RmsNormCore(x, gamma, eps), x, gamma);
    }

    /// <param name="addPerChannel">add is (N, C), broadcast over positions, rather than x's shape.</param>
    protected abstract Tensor GroupNormCore(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu, Tensor? add, bool addPerChannel);

    protected abstract Tensor LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps);

    protected abstract Tensor RmsNormCore(Tensor x, Tensor gamma, float eps);
}

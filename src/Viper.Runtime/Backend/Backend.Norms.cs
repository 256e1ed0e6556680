namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu = false, Tensor? add = null)
    {
        Own(x, gamma, beta, add);
        bool addPerChannel = OpChecks.GroupNorm(x, groups, gamma, beta, add);
        return GroupNormCore(x, groups, gamma, beta, eps, silu, add, addPerChannel);
    }

    public Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps)
    {
        Own(x, gamma, beta);
        OpChecks.LastAxisAffine("layer_norm", x, gamma, beta);
        return LayerNormCore(x, gamma, beta, eps);
    }

    public Tensor RmsNorm(Tensor x, Tensor gamma, float eps)
    {
        Own(x, gamma);
        OpChecks.LastAxisAffine("rms_norm", x, gamma, null);
        return RmsNormCore(x, gamma, eps);
    }

    /// <param name="addPerChannel">add is (N, C), broadcast over positions, rather than x's shape.</param>
    protected abstract Tensor GroupNormCore(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu, Tensor? add, bool addPerChannel);

    protected abstract Tensor LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps);

    protected abstract Tensor RmsNormCore(Tensor x, Tensor gamma, float eps);
}

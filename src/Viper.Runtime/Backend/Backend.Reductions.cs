namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Argmax(Tensor x) => ArgmaxCore(FloatInput("argmax", x));

    public Tensor Mean(Tensor x) => MeanCore(FloatInput("mean", x));

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f) => L2NormalizeCore(FloatInput("l2_normalize", x), eps);

    public Tensor SumLeading(Tensor x, int axes)
    {
        Own(x);
        return SumLeadingCore(x, OpChecks.SumLeading(x, axes));
    }

    public Tensor RepetitionPenalty(Tensor logits, Tensor ids, float penalty)
    {
        Own(logits, ids);
        OpChecks.RepetitionPenalty(logits, ids, penalty);
        return RepetitionPenaltyCore(logits, ids, penalty);
    }

    protected abstract Tensor ArgmaxCore(Tensor x);

    protected abstract Tensor MeanCore(Tensor x);

    protected abstract Tensor L2NormalizeCore(Tensor x, float eps);

    protected abstract Tensor SumLeadingCore(Tensor x, Shape output);

    protected abstract Tensor RepetitionPenaltyCore(Tensor logits, Tensor ids, float penalty);
}

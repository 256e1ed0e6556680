namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Argmax(Tensor x) => Kept(ArgmaxCore(FloatInput("argmax", x)), x);

    public Tensor TopGap(Tensor x)
    {
        Own(x);
        OpChecks.TopGap(x);
        return Kept(TopGapCore(x), x);
    }

    public Tensor Mean(Tensor x) => Kept(MeanCore(FloatInput("mean", x)), x);

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f) => Kept(L2NormalizeCore(FloatInput("l2_normalize", x), eps), x);

    public Tensor SumLeading(Tensor x, int axes)
    {
        Own(x);
        return Kept(SumLeadingCore(x, OpChecks.SumLeading(x, axes)), x);
    }

    public Tensor RepetitionPenalty(Tensor logits, Tensor ids, float penalty)
    {
        Own(logits, ids);
        OpChecks.RepetitionPenalty(logits, ids, penalty);
        return Kept(RepetitionPenaltyCore(logits, ids, penalty), logits, ids);
    }

    protected abstract Tensor ArgmaxCore(Tensor x);

    protected abstract Tensor TopGapCore(Tensor x);

    protected abstract Tensor MeanCore(Tensor x);

    protected abstract Tensor L2NormalizeCore(Tensor x, float eps);

    protected abstract Tensor SumLeadingCore(Tensor x, Shape output);

    protected abstract Tensor RepetitionPenaltyCore(Tensor logits, Tensor ids, float penalty);
}

namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Attention(Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        Own(q, k, v, options.KeyLengths, options.KeyMask, options.Bias);
        OpChecks.Attention(q, k, v, options);
        return Kept(AttentionCore(q, k, v, options), q, k, v, options);
    }

    public void KvCacheWrite(Tensor cache, Tensor values, Tensor positions)
    {
        Own(cache, values, positions);
        OpChecks.KvCacheWrite(cache, values, positions);
        KvCacheWriteCore(cache, values, positions);
        KeepAlive(cache, values, positions);
    }

    protected abstract Tensor AttentionCore(Tensor q, Tensor k, Tensor v, AttentionOptions options);

    protected abstract void KvCacheWriteCore(Tensor cache, Tensor values, Tensor positions);
}

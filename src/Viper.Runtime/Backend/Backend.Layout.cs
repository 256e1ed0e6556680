namespace Viper.Runtime;

public abstract partial class Backend
{
    public Tensor Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        Own([.. parts]);
        return Kept(ConcatCore(parts, axis, OpChecks.Concat(parts, axis)), parts);
    }

    public Tensor[] Split(Tensor x, int axis, IReadOnlyList<int> sizes)
    {
        Own(x);
        OpChecks.Split(x, axis, sizes);
        return Kept(SplitCore(x, axis, sizes), x);
    }

    public Tensor Narrow(Tensor x, int axis, int start, int length)
    {
        Own(x);
        return Kept(NarrowCore(x, axis, start, OpChecks.Narrow(x, axis, start, length)), x);
    }

    public Tensor UpsampleNearest2x(Tensor x)
    {
        Own(x);
        OpChecks.Rank("upsample_nearest2x", x, "x (N, H, W, C)", 4);
        return Kept(UpsampleNearest2xCore(x), x);
    }

    public Tensor Embedding(Tensor table, Tensor ids)
    {
        Own(table, ids);
        return Kept(EmbeddingCore(table, ids, OpChecks.Embedding(table, ids)), table, ids);
    }

    public Tensor TimestepEmbedding(Tensor timesteps, TimestepEmbeddingOptions options)
    {
        Own(timesteps);
        OpChecks.TimestepEmbedding(timesteps, options);
        return Kept(TimestepEmbeddingCore(timesteps, options), timesteps);
    }

    public Tensor Rotary(Tensor x, Tensor positions, int headDim, float theta)
    {
        Own(x, positions);
        OpChecks.Rotary(x, positions, headDim);
        return Kept(RotaryCore(x, positions, headDim, theta), x, positions);
    }

    protected abstract Tensor ConcatCore(IReadOnlyList<Tensor> parts, int axis, Shape output);

    protected abstract Tensor[] SplitCore(Tensor x, int axis, IReadOnlyList<int> sizes);

    /// <param name="axis">As the caller gave it (negative counts from the end).</param>
    protected abstract Tensor NarrowCore(Tensor x, int axis, int start, Shape output);

    protected abstract Tensor UpsampleNearest2xCore(Tensor x);

    protected abstract Tensor EmbeddingCore(Tensor table, Tensor ids, Shape output);

    protected abstract Tensor TimestepEmbeddingCore(Tensor timesteps, TimestepEmbeddingOptions options);

    protected abstract Tensor RotaryCore(Tensor x, Tensor positions, int headDim, float theta);
}

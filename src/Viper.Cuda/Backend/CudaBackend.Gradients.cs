using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;
using Viper.Runtime.Training;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor EmbeddingBackwardCore(Tensor dy, Tensor ids, Shape output)
    {
        Tensor table = Allocate(output, DType.F32);
        LaunchElementwise(KernelTable.Entry("embedding_backward", dy.DType), output[1], new KernelArgs()
            .Add(this, dy).Add(this, ids).Add(this, table).Add(ids.ElementCount).Add((long)output[1]).Add(output[0]).Add(BadValues));
        return RoundedTo(table, dy.DType);
    }

    protected override LayerNormGradients LayerNormBackwardCore(Tensor x, Tensor gamma, Tensor dy, float eps)
    {
        long rows = x.Shape.Rows;
        int cols = x.Shape.Last;
        Tensor dx = AllocateUninitialized(x.Shape, x.DType);
        using Tensor stats = AllocateUninitialized(new Shape(checked((int)rows), 2), DType.F32);
        LaunchRows(KernelTable.Entry("layer_norm_backward", x.DType), rows, cols, new KernelArgs()
            .Add(this, x).Add(this, gamma).Add(this, dy).Add(this, dx).Add(this, stats).Add(cols).Add(eps));
        Tensor dGamma = AllocateUninitialized(gamma.Shape, DType.F32), dBeta = AllocateUninitialized(gamma.Shape, DType.F32);
        LaunchElementwise(KernelTable.Entry("layer_norm_param_backward", x.DType), cols, new KernelArgs()
            .Add(this, x).Add(this, dy).Add(this, stats).Add(this, dGamma).Add(this, dBeta).Add(rows).Add(cols));
        return new LayerNormGradients(dx, RoundedTo(dGamma, gamma.DType), RoundedTo(dBeta, gamma.DType));
    }

    protected override AttentionGradients AttentionBackwardCore(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionOptions options)
    {
        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], hq = options.QueryHeads, hkv = options.KeyValueHeads, d = options.HeadDim;
        float scale = options.EffectiveScale;
        var scratchShape = new Shape(batch, hq, tq, tk);
        using Tensor probs = AllocateUninitialized(scratchShape, DType.F32), ds = AllocateUninitialized(scratchShape, DType.F32);
        Tensor dq = AllocateUninitialized(q.Shape, q.DType), dk = AllocateUninitialized(k.Shape, k.DType), dv = AllocateUninitialized(v.Shape, v.DType);
        if (q.ElementCount > 0 && tk > 0)
        {
            (Dim3 grid, Dim3 block) = Launchers.AttentionBackwardRows(batch, tq, hq, tk);
            Device.Launch(KernelTable.Entry("attention_backward_rows", q.DType), grid, block, 0, new KernelArgs()
                .Add(this, q).Add(this, k).Add(this, v).Add(this, dOut).Add(this, probs).Add(this, ds)
                .Add(tq).Add(tk).Add(hq).Add(hkv).Add(d).Add(scale).Add(options.Causal ? 1 : 0));
        }

        LaunchElementwise(KernelTable.Entry("attention_backward_dq", q.DType), q.ElementCount, new KernelArgs()
            .Add(this, ds).Add(this, k).Add(this, dq).Add(tq).Add(tk).Add(hq).Add(hkv).Add(d).Add(scale).Add(q.ElementCount));
        LaunchElementwise(KernelTable.Entry("attention_backward_dkv", q.DType), k.ElementCount, new KernelArgs()
            .Add(this, probs).Add(this, ds).Add(this, q).Add(this, dOut).Add(this, dk).Add(this, dv)
            .Add(tq).Add(tk).Add(hq).Add(hkv).Add(d).Add(scale).Add(k.ElementCount));
        return new AttentionGradients(dq, dk, dv);
    }

    protected override Tensor ActivationBackwardCore(Tensor x, Tensor dy, Activation activation)
    {
        Tensor dx = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("activation_backward", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(this, dy).Add(this, dx).Add((int)activation).Add(x.ElementCount));
        return dx;
    }

    protected override Tensor L2NormalizeBackwardCore(Tensor x, Tensor dy, float eps)
    {
        Tensor dx = AllocateUninitialized(x.Shape, x.DType);
        LaunchRows(KernelTable.Entry("l2_normalize_backward", x.DType), x.Shape.Rows, x.Shape.Last,
            new KernelArgs().Add(this, x).Add(this, dy).Add(this, dx).Add(x.Shape.Last).Add(eps));
        return dx;
    }

    protected override void AdamUpdateCore(Tensor master, Tensor m, Tensor v, Tensor grad, Tensor? param, AdamStep step)
    {
        AdamScalars s = step.Scalars();
        LaunchElementwise(KernelTable.Entry("adam_update", grad.DType), grad.ElementCount, new KernelArgs()
            .Add(this, master).Add(this, m).Add(this, v).Add(this, grad).Add(this, param)
            .Add(s.Beta1).Add(s.Beta2).Add(s.OneMinusBeta1).Add(s.OneMinusBeta2).Add(s.Eps).Add(s.StepSize).Add(s.BiasCorrection2Sqrt)
            .Add(s.DecayFactor).Add(s.GradientDecay).Add(grad.ElementCount));
    }
}

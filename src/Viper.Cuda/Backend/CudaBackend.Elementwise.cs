using System.Diagnostics;
using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor ActivateCore(Tensor x, Activation activation)
    {
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        // activations.cu numbers them in IBackend's order: silu, gelu, gelu_tanh, quick_gelu.
        LaunchElementwise(KernelTable.Entry("activate", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(this, y).Add((int)activation).Add(x.ElementCount));
        return y;
    }

    protected override Tensor GegluCore(Tensor x, Shape output)
    {
        Tensor y = AllocateUninitialized(output, x.DType);
        LaunchElementwise(KernelTable.Entry("geglu", x.DType), y.ElementCount,
            new KernelArgs().Add(this, x).Add(this, y).Add(output.Last).Add(y.ElementCount));
        return y;
    }

    protected override Tensor SwigluCore(Tensor gate, Tensor up)
    {
        Tensor y = AllocateUninitialized(gate.Shape, gate.DType);
        LaunchElementwise(KernelTable.Entry("swiglu", gate.DType), y.ElementCount,
            new KernelArgs().Add(this, gate).Add(this, up).Add(this, y).Add(y.ElementCount));
        return y;
    }

    // elementwise.cu's entry names.
    protected override Tensor BinaryCore(BinaryOp op, Tensor a, Tensor b) => Binary(op switch
    {
        BinaryOp.Add => "add",
        BinaryOp.Mul => "mul",
        _ => throw new UnreachableException(),
    }, a, b);

    protected override Tensor ClampCore(Tensor x, float min, float max)
    {
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("clamp", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(min).Add(max).Add(this, y).Add(x.ElementCount));
        return y;
    }

    protected override Tensor ScaleCore(Tensor x, float factor)
    {
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("scale", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(factor).Add(this, y).Add(x.ElementCount));
        return y;
    }

    protected override void GuidanceStepCore(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents,
        Tensor? noise, Runtime.Guidance.GuidanceStep step)
    {
        LaunchElementwise(KernelTable.Entry("guidance_step", epsUncond.DType), latents.ElementCount, new KernelArgs()
            .Add(this, epsUncond).Add(this, epsCond).Add(this, epsLiked).Add(this, epsDisliked).Add(this, noise)
            .Add(this, latents).Add(new KernelGuidanceStep(step)).Add(latents.ElementCount));
    }

    protected override Tensor L2NormalizeCore(Tensor x, float eps) => PerRow("l2_normalize", x, x.DType, eps);

    protected override Tensor ArgmaxCore(Tensor x) => PerRowWarp("argmax", x, DType.I32);

    protected override Tensor TopGapCore(Tensor x) => PerRowWarp("top_gap", x, DType.F32);

    // One warp per row: softmax.cu's argmax_rows and top_gap_rows reduce within a warp only.
    private Tensor PerRowWarp(string op, Tensor x, DType result)
    {
        Tensor y = AllocateUninitialized(x.Shape.WithoutLast(), result);
        if (x.Shape.Rows > 0)
        {
            Device.Launch(KernelTable.Entry(op, x.DType), new Dim3(checked((uint)x.Shape.Rows)), new Dim3(32), 0,
                new KernelArgs().Add(this, x).Add(this, y).Add(x.Shape.Last));
        }

        return y;
    }

    protected override Tensor RepetitionPenaltyCore(Tensor logits, Tensor ids, float penalty)
    {
        Tensor y = AllocateUninitialized(logits.Shape, logits.DType);
        CopyRows(logits, 0, 0, y, 0, 0, 1, logits.SizeInBytes);
        string entry = KernelTable.Entry(ids.DType == DType.I64 ? "repetition_penalty_i64" : "repetition_penalty_i32", logits.DType);
        LaunchElementwise(entry, ids.ElementCount, new KernelArgs()
            .Add(this, logits).Add(this, ids).Add(this, y).Add(logits.Shape[1]).Add(ids.Shape[1]).Add(penalty).Add(ids.ElementCount).Add(BadValues));
        return y;
    }

    protected override Tensor SumLeadingCore(Tensor x, Shape outShape)
    {
        long cols = outShape.ElementCount, rows = cols == 0 ? 0 : x.ElementCount / cols;
        Tensor sums = AllocateUninitialized(outShape, DType.F32);
        LaunchElementwise(KernelTable.Entry("sum_leading", x.DType), cols, new KernelArgs().Add(this, x).Add(this, sums).Add(rows).Add(cols));
        return RoundedTo(sums, x.DType);
    }

    protected override Tensor MeanCore(Tensor x)
    {
        Tensor sums = AllocateUninitialized(x.Shape.WithoutLast(), DType.F32);
        LaunchRows(KernelTable.Entry("sum_rows", x.DType), x.Shape.Rows, x.Shape.Last,
            new KernelArgs().Add(this, x).Add(this, sums).Add(x.Shape.Last).Add(1f / Math.Max(x.Shape.Last, 1)));
        return RoundedTo(sums, x.DType);
    }

    /// <summary>
    /// Float ↔ float casts run on the device. Casts to or from integer and bool dtypes (token ids, masks: small
    /// tensors) go through the host with the CPU backend's rules, so both backends agree on them exactly.
    /// </summary>
    protected override Tensor CastCore(Tensor x, DType dtype)
    {
        if (x.DType == dtype)
        {
            Tensor copy = AllocateUninitialized(x.Shape, dtype);
            CopyRows(x, 0, 0, copy, 0, 0, 1, x.SizeInBytes);
            return copy;
        }

        if (!x.DType.IsFloat() || !dtype.IsFloat())
        {
            return FromHost(HostCasts.Convert(x.ToBytes(), x.DType, dtype), x.Shape, dtype);
        }

        Tensor y = AllocateUninitialized(x.Shape, dtype);
        LaunchElementwise(KernelTable.Entry("cast", x.DType, dtype), x.ElementCount,
            new KernelArgs().Add(this, x).Add(this, y).Add(x.ElementCount));
        return y;
    }

    private Tensor Binary(string op, Tensor a, Tensor b)
    {
        Tensor y = AllocateUninitialized(a.Shape, a.DType);
        if (a.Shape.Equals(b.Shape))
        {
            LaunchElementwise(KernelTable.Entry(op, a.DType), a.ElementCount,
                new KernelArgs().Add(this, a).Add(this, b).Add(this, y).Add(a.ElementCount));
            return y;
        }

        var strides = KernelStrides.From(a.Shape, StridedIndexing.BroadcastStrides(a.Shape, b.Shape));
        LaunchElementwise(KernelTable.Entry($"{op}_broadcast", a.DType), a.ElementCount,
            new KernelArgs().Add(this, a).Add(this, b).Add(this, y).Add(strides).Add(a.ElementCount));
        return y;
    }

    private Tensor PerRow(string op, Tensor x, DType outType, float? eps = null)
    {
        Tensor y = AllocateUninitialized(x.Shape, outType);
        var args = new KernelArgs().Add(this, x).Add(this, y).Add(x.Shape.Last);
        if (eps is { } e)
        {
            args.Add(e);
        }

        LaunchRows(KernelTable.Entry(op, x.DType), x.Shape.Rows, x.Shape.Last, args);
        return y;
    }
}

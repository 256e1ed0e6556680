using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    public Tensor Activate(Tensor x, Activation activation)
    {
        OpChecks.Float("activate", x, "x");
        if (!Enum.IsDefined(activation))
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "unknown activation");
        }

        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        // activations.cu numbers them in IBackend's order: silu, gelu, gelu_tanh, quick_gelu.
        LaunchElementwise(KernelTable.Entry("activate", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(this, y).Add((int)activation).Add(x.ElementCount));
        return y;
    }

    public Tensor Geglu(Tensor x)
    {
        OpChecks.Float("geglu", x, "x");
        if (x.Shape.Rank < 1 || x.Shape.Last % 2 != 0)
        {
            throw new ArgumentException($"geglu: last axis of {x.Shape} must be even (hidden, gate)");
        }

        Tensor y = AllocateUninitialized(x.Shape.WithLast(x.Shape.Last / 2), x.DType);
        LaunchElementwise(KernelTable.Entry("geglu", x.DType), y.ElementCount,
            new KernelArgs().Add(this, x).Add(this, y).Add(x.Shape.Last / 2).Add(y.ElementCount));
        return y;
    }

    public Tensor Swiglu(Tensor gate, Tensor up)
    {
        OpChecks.Float("swiglu", gate, "gate");
        OpChecks.SameDType("swiglu", gate, up);
        OpChecks.ShapeIs("swiglu", up, "up", gate.Shape);
        Tensor y = AllocateUninitialized(gate.Shape, gate.DType);
        LaunchElementwise(KernelTable.Entry("swiglu", gate.DType), y.ElementCount,
            new KernelArgs().Add(this, gate).Add(this, up).Add(this, y).Add(y.ElementCount));
        return y;
    }

    public Tensor Add(Tensor a, Tensor b) => Binary("add", a, b);

    public Tensor Mul(Tensor a, Tensor b) => Binary("mul", a, b);

    public Tensor Subtract(Tensor a, Tensor b) => Binary("sub", a, b);

    public Tensor Divide(Tensor a, Tensor b) => Binary("div", a, b);

    public Tensor Sqrt(Tensor x) => Unary("sqrt", x);

    public Tensor Rsqrt(Tensor x) => Unary("rsqrt", x);

    private Tensor Unary(string op, Tensor x)
    {
        OpChecks.SameBackend(this, x);
        OpChecks.Float(op, x, "x");
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry(op, x.DType), x.ElementCount, new KernelArgs().Add(this, x).Add(this, y).Add(x.ElementCount));
        return y;
    }

    public Tensor Scale(Tensor x, float factor)
    {
        OpChecks.Float("scale", x, "x");
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("scale", x.DType), x.ElementCount,
            new KernelArgs().Add(this, x).Add(factor).Add(this, y).Add(x.ElementCount));
        return y;
    }

    public void GuidanceStep(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents, Tensor? noise,
        Runtime.Guidance.GuidanceStep step)
    {
        OpChecks.GuidanceStep(epsUncond, epsCond, epsLiked, epsDisliked, latents, noise, step);
        LaunchElementwise(KernelTable.Entry("guidance_step", epsUncond.DType), latents.ElementCount, new KernelArgs()
            .Add(this, epsUncond).Add(this, epsCond).Add(this, epsLiked).Add(this, epsDisliked).Add(this, noise)
            .Add(this, latents).Add(new KernelGuidanceStep(step)).Add(latents.ElementCount));
    }

    public Tensor Softmax(Tensor x) => PerRow("softmax", x, x.DType);

    public Tensor L2Normalize(Tensor x, float eps = 1e-12f) => PerRow("l2_normalize", x, x.DType, eps);

    public Tensor Argmax(Tensor x)
    {
        OpChecks.Float("argmax", x, "x");
        Tensor y = AllocateUninitialized(x.Shape.WithoutLast(), DType.I32);
        if (x.Shape.Rows > 0)
        {
            // One warp per row (softmax.cu's argmax_rows reduces within a warp only).
            Device.Launch(KernelTable.Entry("argmax", x.DType), new Dim3(checked((uint)x.Shape.Rows)), new Dim3(32), 0,
                new KernelArgs().Add(this, x).Add(this, y).Add(x.Shape.Last));
        }

        return y;
    }

    public Tensor RepetitionPenalty(Tensor logits, Tensor ids, float penalty)
    {
        OpChecks.SameBackend(this, logits, ids);
        OpChecks.RepetitionPenalty(logits, ids, penalty);
        Tensor y = AllocateUninitialized(logits.Shape, logits.DType);
        CopyRows(logits, 0, 0, y, 0, 0, 1, logits.SizeInBytes);
        string entry = KernelTable.Entry(ids.DType == DType.I64 ? "repetition_penalty_i64" : "repetition_penalty_i32", logits.DType);
        LaunchElementwise(entry, ids.ElementCount, new KernelArgs()
            .Add(this, logits).Add(this, ids).Add(this, y).Add(logits.Shape[1]).Add(ids.Shape[1]).Add(penalty).Add(ids.ElementCount).Add(BadValues));
        return y;
    }

    public Tensor SumLeading(Tensor x, int axes)
    {
        OpChecks.SameBackend(this, x);
        Shape outShape = OpChecks.SumLeading(x, axes);
        long cols = outShape.ElementCount, rows = cols == 0 ? 0 : x.ElementCount / cols;
        Tensor sums = AllocateUninitialized(outShape, DType.F32);
        LaunchElementwise(KernelTable.Entry("sum_leading", x.DType), cols, new KernelArgs().Add(this, x).Add(this, sums).Add(rows).Add(cols));
        if (x.DType == DType.F32)
        {
            return sums;
        }

        Tensor rounded = Cast(sums, x.DType);
        sums.Dispose();
        return rounded;
    }

    public Tensor Mean(Tensor x)
    {
        OpChecks.Float("mean", x, "x");
        Tensor sums = AllocateUninitialized(x.Shape.WithoutLast(), DType.F32);
        LaunchRows(KernelTable.Entry("sum_rows", x.DType), x.Shape.Rows, x.Shape.Last,
            new KernelArgs().Add(this, x).Add(this, sums).Add(x.Shape.Last).Add(1f / Math.Max(x.Shape.Last, 1)));
        if (x.DType == DType.F32)
        {
            return sums;
        }

        Tensor mean = Cast(sums, x.DType);
        sums.Dispose();
        return mean;
    }

    /// <summary>
    /// Float ↔ float casts run on the device. Casts to or from integer and bool dtypes (token ids, masks: small
    /// tensors) go through the host with the CPU backend's rules, so both backends agree on them exactly.
    /// </summary>
    public Tensor Cast(Tensor x, DType dtype)
    {
        OpChecks.SameBackend(this, x);
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
        OpChecks.Float(op, a, "a");
        OpChecks.Broadcast(op, a, b);
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
        OpChecks.Float(op, x, "x");
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

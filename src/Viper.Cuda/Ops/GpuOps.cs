using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;
using Viper.Runtime.Guidance;

namespace Viper.Cuda.Ops;

/// <summary>
/// The ops that run this family of kernels on a device: each validates shapes and dtypes, picks the entry
/// from <see cref="KernelTable"/>, and takes its launch configuration from <see cref="Launchers"/>.
/// </summary>
public sealed class GpuOps(IGpuDevice device)
{
    public IGpuDevice Device { get; } = device;

    public DeviceTensor Add(DeviceTensor a, DeviceTensor b) => Binary("add", a, b);

    public DeviceTensor Mul(DeviceTensor a, DeviceTensor b) => Binary("mul", a, b);

    public DeviceTensor Scale(DeviceTensor x, float factor)
    {
        RequireFloat("scale", x);
        DeviceTensor y = DeviceTensor.Allocate(Device, x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("scale", x.DType), x.ElementCount, new KernelArgs().Add(x.Buffer).Add(factor).Add(y.Buffer).Add(x.ElementCount));
        return y;
    }

    public DeviceTensor Cast(DeviceTensor x, DType dtype)
    {
        RequireFloat("cast", x);
        if (!dtype.IsFloat())
        {
            throw new ArgumentException($"cast: the device casts between f32, f16 and bf16, not to {dtype}");
        }

        DeviceTensor y = DeviceTensor.Allocate(Device, x.Shape, dtype);
        if (dtype == x.DType)
        {
            Device.CopyDeviceToDevice(y.Buffer, x.Buffer, x.ElementCount * dtype.SizeInBytes());
            return y;
        }

        LaunchElementwise(KernelTable.Entry("cast", x.DType, dtype), x.ElementCount, new KernelArgs().Add(x.Buffer).Add(y.Buffer).Add(x.ElementCount));
        return y;
    }

    /// <summary>Σ over the last axis, accumulated in f32 → f32 (…).</summary>
    public DeviceTensor SumRows(DeviceTensor x) => RowReduce(x, 1f);

    /// <summary>Mean over the last axis → f32 (…).</summary>
    public DeviceTensor MeanRows(DeviceTensor x) => RowReduce(x, 1f / Math.Max(x.Shape.Last, 1));

    /// <summary>
    /// The fused ViPer guidance step over the four UNet outputs (same shape and dtype) and f32 latents, updated
    /// in place: eps = eps_u + w·(eps_c + β₊·eps_vp+ − eps_u − β₋·eps_vp−); x ← a·x + b·eps (+ c·noise).
    /// </summary>
    public void GuidanceStep(DeviceTensor epsUncond, DeviceTensor epsCond, DeviceTensor epsLiked, DeviceTensor epsDisliked,
        DeviceTensor latents, DeviceTensor? noise, GuidanceStep step)
    {
        step.Validate();
        RequireFloat("guidance_step", epsUncond);
        foreach ((DeviceTensor t, string name) in new[] { (epsCond, "eps_c"), (epsLiked, "eps_vp+"), (epsDisliked, "eps_vp−") })
        {
            RequireSame("guidance_step", epsUncond, t, name);
        }

        RequireLatents(epsUncond, latents, "latents");
        if (noise is not null)
        {
            RequireLatents(epsUncond, noise, "noise");
        }

        var args = new KernelArgs().Add(epsUncond.Buffer).Add(epsCond.Buffer).Add(epsLiked.Buffer).Add(epsDisliked.Buffer);
        args = noise is null ? args.AddNull() : args.Add(noise.Buffer);
        args.Add(latents.Buffer).Add(new KernelGuidanceStep(step)).Add(latents.ElementCount);
        LaunchElementwise(KernelTable.Entry("guidance_step", epsUncond.DType), latents.ElementCount, args);
    }

    private DeviceTensor Binary(string op, DeviceTensor a, DeviceTensor b)
    {
        RequireFloat(op, a);
        RequireSame(op, a, b, "b");
        DeviceTensor y = DeviceTensor.Allocate(Device, a.Shape, a.DType);
        LaunchElementwise(KernelTable.Entry(op, a.DType), a.ElementCount, new KernelArgs().Add(a.Buffer).Add(b.Buffer).Add(y.Buffer).Add(a.ElementCount));
        return y;
    }

    private DeviceTensor RowReduce(DeviceTensor x, float scale)
    {
        RequireFloat("sum_rows", x);
        if (x.Shape.Rank < 1)
        {
            throw new ArgumentException("sum_rows: x must have rank ≥ 1");
        }

        var outShape = new Shape(x.Shape.ToArray()[..^1]);
        DeviceTensor y = DeviceTensor.Allocate(Device, outShape, DType.F32);
        if (x.Shape.Rows == 0)
        {
            return y;
        }

        (Dim3 grid, Dim3 block) = Launchers.RowReduce(x.Shape.Rows, x.Shape.Last);
        Device.Launch(KernelTable.Entry("sum_rows", x.DType), grid, block, 0,
            new KernelArgs().Add(x.Buffer).Add(y.Buffer).Add(x.Shape.Last).Add(scale));
        return y;
    }

    private void LaunchElementwise(string entry, long n, KernelArgs args)
    {
        if (n == 0)
        {
            return;
        }

        (Dim3 grid, Dim3 block) = Launchers.Elementwise(n);
        Device.Launch(entry, grid, block, 0, args);
    }

    private static void RequireFloat(string op, DeviceTensor t)
    {
        if (!t.DType.IsFloat())
        {
            throw new ArgumentException($"{op}: expected f32, f16 or bf16, got {t.DType}");
        }
    }

    private static void RequireSame(string op, DeviceTensor a, DeviceTensor b, string name)
    {
        if (!a.Shape.Equals(b.Shape) || a.DType != b.DType)
        {
            throw new ArgumentException($"{op}: {name} is {b.Shape} {b.DType}, expected {a.Shape} {a.DType}");
        }
    }

    private static void RequireLatents(DeviceTensor eps, DeviceTensor t, string name)
    {
        if (!t.Shape.Equals(eps.Shape) || t.DType != DType.F32)
        {
            throw new ArgumentException($"guidance_step: {name} must be f32 {eps.Shape}, got {t.Shape} {t.DType}");
        }
    }

    /// <summary>kernels/guidance.cu's GuidanceStep struct: six floats in declaration order.</summary>
    private readonly record struct KernelGuidanceStep(float W, float BetaPositive, float BetaNegative, float A, float B, float C)
    {
        public KernelGuidanceStep(GuidanceStep s)
            : this(s.W, s.BetaPositive, s.BetaNegative, s.Update.A, s.Update.B, s.Update.C)
        {
        }
    }
}

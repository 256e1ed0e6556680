using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    /// <summary>
    /// Prefill over FP8 E4M3 weights on FP8 tensor cores (sm_89+), as vLLM runs FP8 checkpoints (dynamic per-tensor
    /// activation scale): x is quantized to E4M3 on the device with one scale amax/448 that stays on the device (no
    /// host sync, so a captured graph keeps working), cuBLASLt multiplies the two FP8 operands with that scale and a
    /// per-tensor weight scale through its scale pointers into an f32 scratch, and quant.cu's fp8_scale_columns applies a
    /// per-channel weight scale (cuBLASLt's scale pointers hold one value) and the bias in x's dtype. The activations'
    /// rounding (3 mantissa bits) is the price of twice the bf16 tensor-core rate; decode keeps reading the weights
    /// alone (linear_small), where the bytes, not the arithmetic, set the speed.
    /// </summary>
    private void Fp8Linear(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale, Tensor y, int m, int n, int k)
    {
        long count = (long)m * k;
        (Dim3 grid, Dim3 block) = Launchers.Fp8Activations(count);
        using Tensor partials = AllocateUninitialized(new Shape((int)grid.X), DType.F32);
        using Tensor codes = AllocateUninitialized(new Shape(m, k), DType.F8E4M3);
        using Tensor activationScale = AllocateUninitialized(new Shape(1), DType.F32);
        using Tensor product = AllocateUninitialized(new Shape(m, n), DType.F32);
        Device.Launch(KernelTable.Entry("fp8_amax_partial", x.DType), grid, block, 0, new KernelArgs().Add(this, x).Add(count).Add(this, partials));
        Device.Launch(KernelTable.Entry("fp8_quantize", x.DType), grid, block, 0, new KernelArgs()
            .Add(this, x).Add(count).Add(this, partials).Add((int)grid.X).Add(this, codes).Add(this, activationScale));
        bool perTensor = weightScale is { } s && s.Shape[0] == 1;
        Device.Gemm(new GemmDescriptor(false, true, m, n, k, 1f, Address(codes), k, 0, Address(weight), k, 0, 0f, Address(product), n, 0, 1,
            DType.F8E4M3, DType.F32, ScaleA: Address(activationScale), ScaleB: perTensor ? Address(weightScale!) : IntPtr.Zero));
        GC.KeepAlive(weight); // raw addresses in the descriptor: keep the operands alive until the GEMM is issued
        GC.KeepAlive(weightScale);
        Tensor? channelScale = perTensor ? null : weightScale;
        LaunchElementwise(KernelTable.Entry("fp8_scale_columns", x.DType), (long)m * n, new KernelArgs()
            .Add(this, product).Add(this, channelScale).Add(channelScale?.Shape[0] ?? 0).Add(this, bias).Add(this, y).Add((long)m).Add(n));
    }
}

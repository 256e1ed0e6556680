using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor LinearCore(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale, Shape outShape)
    {
        if (weight.DType != x.DType)
        {
            return DequantizingLinear(x, weight, bias, weightScale, outShape);
        }

        Tensor y = AllocateUninitialized(outShape, x.DType);
        Gemm(x, weight, bias, y, checked((int)x.Shape.Rows), weight.Shape[0], weight.Shape[1]);
        return y;
    }

    protected override Tensor MatMulCore(Tensor a, Tensor b, bool transposeB, float alpha, bool transposeA, Shape outShape)
    {
        int batch = a.Shape[0], m = outShape[1], k = transposeA ? a.Shape[1] : a.Shape[2], n = outShape[2];
        Tensor y = AllocateUninitialized(outShape, a.DType);
        Device.Gemm(new GemmDescriptor(transposeA, transposeB, m, n, k, alpha,
            Address(a), transposeA ? m : k, (long)m * k, Address(b), transposeB ? k : n, (long)k * n, 0f, Address(y), n, (long)m * n, batch, a.DType, a.DType));
        GC.KeepAlive(a); // the descriptor holds raw addresses: keep the operands from being finalized before the GEMM is issued
        GC.KeepAlive(b);
        return y;
    }

    /// <summary>y (M, N) = x (M, K) · w (N, K)ᵀ + bias, the bias applied by the GEMM's epilogue.</summary>
    private void Gemm(Tensor x, Tensor w, Tensor? bias, Tensor y, int m, int n, int k)
    {
        Device.Gemm(new GemmDescriptor(false, true, m, n, k, 1f, Address(x), k, 0, Address(w), k, 0, 0f, Address(y), n, 0, 1, x.DType, x.DType,
            AddressOrNull(bias), bias is null ? GemmEpilogue.None : GemmEpilogue.Bias));
        GC.KeepAlive(x); // raw addresses in the descriptor: keep the operands alive until the GEMM is issued
        GC.KeepAlive(w);
        GC.KeepAlive(bias);
    }
}

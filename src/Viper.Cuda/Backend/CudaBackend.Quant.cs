using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    /// <summary>
    /// A linear whose weight is not in x's dtype (a weight format, or another float dtype), read as stored. Decode (at most
    /// <see cref="Launchers.SmallLinearRows"/> rows) runs quant.cu's linear_small, one pass over the weight bytes. Prefill
    /// dequantizes the weight a panel of rows at a time into x's dtype and multiplies each panel with the tensor-core GEMM
    /// into its slice of output columns (bias in the epilogue), so no full-size copy of the weight is ever made. FP8 E4M3
    /// weights on a device with FP8 tensor cores prefill in FP8 instead (<see cref="Fp8Linear"/>).
    /// </summary>
    private Tensor DequantizingLinear(Tensor x, Tensor weight, Tensor? bias, Tensor? weightScale, Shape outShape)
    {
        int m = checked((int)x.Shape.Rows), n = weight.Shape[0], k = weight.Shape[1];
        int scaleCount = weightScale?.Shape[0] ?? 0;
        Tensor y = AllocateUninitialized(outShape, x.DType);
        if (m == 0 || n == 0)
        {
            return y;
        }

        if (m <= Launchers.SmallLinearRows)
        {
            (Dim3 grid, Dim3 block) = Launchers.SmallLinear(n);
            Device.Launch(KernelTable.WeightEntry("linear_small", weight.DType, x.DType), grid, block, 0, new KernelArgs()
                .Add(this, x).Add(this, weight).Add(this, weightScale).Add(scaleCount).Add(this, bias).Add(this, y).Add(m).Add(n).Add(k));
            return y;
        }

        if (weight.DType == DType.F8E4M3 && Device.SupportsFp8Gemm && k % 16 == 0 && n % 16 == 0)
        {
            Fp8Linear(x, weight, bias, weightScale, y, m, n, k);
            return y;
        }

        int panelRows = Launchers.DequantizePanelRows(n, k, x.DType.SizeInBytes());
        using Tensor panel = AllocateUninitialized(new Shape(panelRows, k), x.DType);
        using Tensor y2 = y.Reshape(m, n);
        for (int first = 0; first < n; first += panelRows)
        {
            int rows = Math.Min(panelRows, n - first);
            LaunchElementwise(KernelTable.WeightEntry("dequantize", weight.DType, x.DType), (long)rows * k, new KernelArgs()
                .Add(this, weight).Add(this, weightScale).Add(scaleCount).Add(this, panel).Add(first).Add(rows).Add(k));
            using Tensor panelRowsView = panel.Slice(0, rows);
            using Tensor biasSlice = bias is null ? null! : bias.Reshape(n, 1).Slice(first, rows).Reshape(rows);
            PanelGemm(x, panelRowsView, bias is null ? null : biasSlice, y2, first, m, n, rows, k);
        }

        return y;
    }

    /// <summary>Columns [first, first + rows) of y (M, N) = x · panelᵀ (+ bias slice), ldc N.</summary>
    private void PanelGemm(Tensor x, Tensor panel, Tensor? bias, Tensor y, int first, int m, int n, int rows, int k)
    {
        Device.Gemm(new GemmDescriptor(false, true, m, rows, k, 1f, Address(x), k, 0, Address(panel), k, 0, 0f,
            Address(y) + (nint)((long)first * x.DType.SizeInBytes()), n, 0, 1, x.DType, x.DType,
            AddressOrNull(bias), bias is null ? GemmEpilogue.None : GemmEpilogue.Bias));
        GC.KeepAlive(x); // raw addresses in the descriptor: keep the operands alive until the GEMM is issued
        GC.KeepAlive(panel);
        GC.KeepAlive(bias);
        GC.KeepAlive(y);
    }
}

using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    /// <summary>
    /// NHWC convolution. f16/bf16: an implicit GEMM on tensor cores with bias and residual fused into its
    /// epilogue. f32: im2col + one GEMM with the bias epilogue (a 1×1 stride-1 unpadded convolution is the GEMM
    /// alone), then the residual added.
    /// </summary>
    protected override Tensor Conv2dCore(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options, Tensor? residual, Shape outShape)
    {
        int cout = weight.Shape[0], kh = weight.Shape[1], kw = weight.Shape[2], cin = x.Shape[3];
        var shape = new KernelConvShape(x.Shape[1], x.Shape[2], cin, kh, kw, options.Stride, options.Padding.Top, options.Padding.Left,
            outShape[1], outShape[2]);
        if (x.DType != DType.F32)
        {
            Tensor output = AllocateUninitialized(outShape, x.DType);
            (Dim3 grid, Dim3 block) = Launchers.ImplicitGemmConv(outShape.Rows, cout);
            Device.Launch(KernelTable.Entry("conv2d_implicit_gemm", x.DType), grid, block, 0, new KernelArgs()
                .Add(this, x).Add(this, weight).Add(this, bias).Add(this, residual).Add(this, output)
                .Add(shape).Add(cout).Add(x.Shape[0]));
            return output;
        }

        Tensor y = ConvF32(x, weight, bias, shape, outShape);
        if (residual is null)
        {
            return y;
        }

        Tensor sum = Add(y, residual);
        y.Dispose();
        return sum;
    }

    private Tensor ConvF32(Tensor x, Tensor weight, Tensor? bias, KernelConvShape shape, Shape outShape)
    {
        int cout = weight.Shape[0], patch = shape.KH * shape.KW * shape.Cin, rows = checked((int)outShape.Rows);
        Tensor y = AllocateUninitialized(outShape, x.DType);
        if (shape.KH == 1 && shape.KW == 1 && shape.Stride == 1 && shape.PadTop == 0 && shape.PadLeft == 0 && shape.Ho == shape.H && shape.Wo == shape.W)
        {
            Gemm(x, weight, bias, y, rows, cout, shape.Cin);
            return y;
        }

        Tensor cols = AllocateUninitialized(new Shape(rows, patch), x.DType);
        LaunchElementwise(KernelTable.Entry("im2col", x.DType), cols.ElementCount,
            new KernelArgs().Add(this, x).Add(this, cols).Add(shape).Add(cols.ElementCount));
        Gemm(cols, weight.Reshape(cout, patch), bias, y, rows, cout, patch);
        cols.Dispose();
        return y;
    }
}

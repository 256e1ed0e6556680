using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    /// <summary>
    /// NHWC convolution as im2col + one GEMM with the bias epilogue; a 1×1 stride-1 unpadded convolution is
    /// the GEMM alone. (The implicit-GEMM tensor-core kernel replaces the im2col pass.)
    /// </summary>
    public Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dOptions options)
    {
        Shape outShape = OpChecks.Conv2d(x, weight, bias, options);
        int cout = weight.Shape[0], kh = weight.Shape[1], kw = weight.Shape[2], cin = x.Shape[3];
        int rows = checked((int)outShape.Rows), patch = kh * kw * cin;
        Tensor y = AllocateUninitialized(outShape, x.DType);
        if (kh == 1 && kw == 1 && options.Stride == 1 && options.Padding == default)
        {
            Gemm(x, weight, bias, y, rows, cout, cin);
            return y;
        }

        Tensor cols = AllocateUninitialized(new Shape(rows, patch), x.DType);
        var shape = new KernelConvShape(x.Shape[1], x.Shape[2], cin, kh, kw, options.Stride, options.Padding.Top, options.Padding.Left,
            outShape[1], outShape[2]);
        LaunchElementwise(KernelTable.Entry("im2col", x.DType), cols.ElementCount,
            new KernelArgs().Add(Address(x)).Add(Address(cols)).Add(shape).Add(cols.ElementCount));
        Gemm(cols, weight.Reshape(cout, patch), bias, y, rows, cout, patch);
        ReleaseScratch(cols);
        return y;
    }
}

using Viper.Runtime;

namespace Viper.Cuda.Device;

public enum GemmEpilogue
{
    None = 0,
    Bias = 1,
    BiasGeluTanh = 2,
}

/// <summary>
/// C = alpha·op(A)·op(B) + beta·C (+ bias, GELU) for <see cref="Batch"/> row-major matrices at the given strides,
/// A and B in <see cref="InputType"/>, C and bias in <see cref="OutputType"/>, f32 accumulation. Operands are
/// device addresses, so views inside a larger buffer work as they are. FP8 (E4M3) operands follow cuBLASLt's FP8
/// contract (devices with <see cref="IGpuDevice.SupportsFp8Gemm"/>): A row-major, B transposed, K and both leading
/// dimensions multiples of 16; <see cref="ScaleA"/> / <see cref="ScaleB"/> are device addresses of one f32 each that
/// multiply the product (cuBLASLt's scale pointers, read when the GEMM runs), or zero for 1.
/// </summary>
public readonly record struct GemmDescriptor(
    bool TransposeA, bool TransposeB, int M, int N, int K, float Alpha,
    IntPtr A, int Lda, long StrideA, IntPtr B, int Ldb, long StrideB,
    float Beta, IntPtr C, int Ldc, long StrideC, int Batch,
    DType InputType, DType OutputType, IntPtr Bias = default, GemmEpilogue Epilogue = GemmEpilogue.None, IntPtr ScaleA = default, IntPtr ScaleB = default);

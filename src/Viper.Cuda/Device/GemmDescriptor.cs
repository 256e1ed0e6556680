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
/// device addresses, so views inside a larger buffer work as they are.
/// </summary>
public readonly record struct GemmDescriptor(
    bool TransposeA, bool TransposeB, int M, int N, int K, float Alpha,
    IntPtr A, int Lda, long StrideA, IntPtr B, int Ldb, long StrideB,
    float Beta, IntPtr C, int Ldc, long StrideC, int Batch,
    DType InputType, DType OutputType, IntPtr Bias = default, GemmEpilogue Epilogue = GemmEpilogue.None);

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Viper.Cuda.Driver;

/// <summary>cuBLASLt (libcublasLt.so.*): the matmul calls behind <see cref="CublasLtGemm"/>.</summary>
internal static unsafe partial class CublasLt
{
    public const int Success = 0;
    public const int ComputeF32 = 68;     // CUBLAS_COMPUTE_32F
    public const int DataF32 = 0;         // CUDA_R_32F
    public const int DataF16 = 2;         // CUDA_R_16F
    public const int DataBF16 = 14;       // CUDA_R_16BF
    public const int DataE4M3 = 28;       // CUDA_R_8F_E4M3
    public const int OpN = 0;
    public const int OpT = 1;
    public const int DescTransA = 3;      // CUBLASLT_MATMUL_DESC_TRANSA
    public const int DescTransB = 4;
    public const int DescEpilogue = 7;
    public const int DescBiasPointer = 8;
    public const int DescAScalePointer = 17; // CUBLASLT_MATMUL_DESC_A_SCALE_POINTER
    public const int DescBScalePointer = 18;
    public const int DescBiasDataType = 26;
    public const int EpilogueDefault = 1;
    public const int EpilogueBias = 4;
    public const int EpilogueGeluBias = 36;
    public const int LayoutBatchCount = 5;
    public const int LayoutStridedBatchOffset = 6;
    public const int PreferenceMaxWorkspaceBytes = 1;

    /// <summary>cublasLtGetVersion of cuBLASLt 11.8, the first with FP8 (E4M3/E5M2) matmuls.</summary>
    public const ulong FirstFp8Version = 110800;

    static CublasLt() => NativeLibraries.Register();

    public static void Check(int status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != Success)
        {
            throw new CudaException(call, status, $"cublasStatus_t {status}");
        }
    }

    /// <summary>cublasLtMatmulHeuristicResult_t: a 64-byte algo, workspace size, state, waves, 4 reserved ints.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 96)]
    public struct HeuristicResult
    {
        public fixed ulong Algo[8];
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
    }

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtCreate(out IntPtr handle);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial nuint cublasLtGetVersion();

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtDestroy(IntPtr handle);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescCreate(out IntPtr desc, int computeType, int scaleType);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescDestroy(IntPtr desc);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescSetAttribute(IntPtr desc, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutCreate(out IntPtr layout, int type, ulong rows, ulong cols, long ld);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutDestroy(IntPtr layout);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutSetAttribute(IntPtr layout, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceCreate(out IntPtr preference);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceDestroy(IntPtr preference);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceSetAttribute(IntPtr preference, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(IntPtr handle, IntPtr desc, IntPtr a, IntPtr b, IntPtr c, IntPtr d,
        IntPtr preference, int requested, HeuristicResult* results, out int returned);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmul(IntPtr handle, IntPtr desc, void* alpha, IntPtr a, IntPtr aLayout, IntPtr b, IntPtr bLayout,
        void* beta, IntPtr c, IntPtr cLayout, IntPtr d, IntPtr dLayout, void* algo, IntPtr workspace, nuint workspaceBytes, IntPtr stream);
}

internal sealed class CublasLtHandle(IntPtr handle) : CudaHandle(handle)
{
    protected override bool ReleaseHandle() => CublasLt.cublasLtDestroy(handle) == CublasLt.Success;
}

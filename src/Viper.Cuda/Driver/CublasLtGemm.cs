using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Driver;

/// <summary>
/// Row-major GEMMs on cuBLASLt, which is column-major: a row-major C (M×N) is the column-major Cᵀ (N×M), so
/// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped and no data moved. The bias
/// epilogue then adds one value per column-major row of Cᵀ, i.e. per output feature of C, as nn.Linear does.
/// </summary>
internal sealed unsafe class CublasLtGemm : IDisposable
{
    private const long WorkspaceBytes = 32L << 20;

    private readonly CublasLtHandle _handle;
    private readonly DeviceBuffer _workspace;
    private readonly IntPtr _stream;

    public CublasLtGemm(IGpuDevice device, IntPtr stream)
    {
        CublasLt.Check(CublasLt.cublasLtCreate(out IntPtr h));
        _handle = new CublasLtHandle(h);
        _workspace = device.Allocate(WorkspaceBytes);
        _stream = stream;
    }

    public void Run(in GemmDescriptor g)
    {
        var pending = new List<Action>();
        try
        {
            CublasLt.Check(CublasLt.cublasLtMatmulDescCreate(out IntPtr desc, CublasLt.ComputeF32, CublasLt.DataF32));
            pending.Add(() => CublasLt.cublasLtMatmulDescDestroy(desc));
            int transA = g.TransposeB ? CublasLt.OpT : CublasLt.OpN; // swapped operands: B first
            int transB = g.TransposeA ? CublasLt.OpT : CublasLt.OpN;
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescTransA, &transA, sizeof(int)));
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescTransB, &transB, sizeof(int)));
            int epilogue = g.Epilogue switch
            {
                GemmEpilogue.Bias => CublasLt.EpilogueBias,
                GemmEpilogue.BiasGeluTanh => CublasLt.EpilogueGeluBias,
                _ => CublasLt.EpilogueDefault,
            };
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescEpilogue, &epilogue, sizeof(int)));
            if (g.Epilogue != GemmEpilogue.None)
            {
                IntPtr bias = g.Bias != IntPtr.Zero ? g.Bias : throw new ArgumentException("a bias epilogue needs a bias address");
                int biasType = DataType(g.OutputType);
                CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescBiasPointer, &bias, (nuint)sizeof(IntPtr)));
                CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescBiasDataType, &biasType, sizeof(int)));
            }

            // Column-major shapes of the swapped problem: Bᵀ-side (N×K), Aᵀ-side (K×M), Cᵀ (N×M).
            IntPtr a = Layout(pending, g.InputType, g.TransposeB ? g.K : g.N, g.TransposeB ? g.N : g.K, g.Ldb, g.StrideB, g.Batch);
            IntPtr b = Layout(pending, g.InputType, g.TransposeA ? g.M : g.K, g.TransposeA ? g.K : g.M, g.Lda, g.StrideA, g.Batch);
            IntPtr c = Layout(pending, g.OutputType, g.N, g.M, g.Ldc, g.StrideC, g.Batch);
            CublasLt.HeuristicResult algo = Heuristic(pending, desc, a, b, c);
            float alpha = g.Alpha, beta = g.Beta;
            CublasLt.Check(CublasLt.cublasLtMatmul(_handle.Value, desc, &alpha, g.B, a, g.A, b, &beta, g.C, c,
                g.C, c, algo.Algo, _workspace.Address, (nuint)WorkspaceBytes, _stream));
        }
        finally
        {
            pending.Reverse();
            pending.ForEach(release => release());
        }
    }

    public void Dispose()
    {
        _workspace.Dispose();
        _handle.Dispose();
    }

    private static int DataType(DType t) => t switch
    {
        DType.F32 => CublasLt.DataF32,
        DType.F16 => CublasLt.DataF16,
        DType.BF16 => CublasLt.DataBF16,
        _ => throw new ArgumentException($"cuBLASLt GEMM takes f32, f16 or bf16, not {t}"),
    };

    private static IntPtr Layout(List<Action> pending, DType type, int rows, int cols, int ld, long stride, int batch)
    {
        CublasLt.Check(CublasLt.cublasLtMatrixLayoutCreate(out IntPtr layout, DataType(type), (ulong)rows, (ulong)cols, ld));
        pending.Add(() => CublasLt.cublasLtMatrixLayoutDestroy(layout));
        if (batch > 1)
        {
            CublasLt.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(layout, CublasLt.LayoutBatchCount, &batch, sizeof(int)));
            CublasLt.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(layout, CublasLt.LayoutStridedBatchOffset, &stride, sizeof(long)));
        }

        return layout;
    }

    private CublasLt.HeuristicResult Heuristic(List<Action> pending, IntPtr desc, IntPtr a, IntPtr b, IntPtr c)
    {
        CublasLt.Check(CublasLt.cublasLtMatmulPreferenceCreate(out IntPtr preference));
        pending.Add(() => CublasLt.cublasLtMatmulPreferenceDestroy(preference));
        ulong workspace = WorkspaceBytes;
        CublasLt.Check(CublasLt.cublasLtMatmulPreferenceSetAttribute(preference, CublasLt.PreferenceMaxWorkspaceBytes, &workspace, sizeof(ulong)));
        CublasLt.HeuristicResult result;
        CublasLt.Check(CublasLt.cublasLtMatmulAlgoGetHeuristic(_handle.Value, desc, a, b, c, c, preference, 1, &result, out int found));
        if (found == 0)
        {
            throw new CudaException("cublasLtMatmulAlgoGetHeuristic", 0, "no cuBLASLt algorithm for this GEMM");
        }

        return result;
    }
}

using Viper.Cuda.Device;
using Viper.Runtime;

namespace Viper.Cuda.Driver;

/// <summary>
/// Row-major GEMMs on cuBLASLt, which is column-major: a row-major C (M×N) is the column-major Cᵀ (N×M), so
/// C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped and no data moved. The bias
/// epilogue then adds one value per column-major row of Cᵀ, i.e. per output feature of C, as nn.Linear does.
/// Thread-safe: one per device stream, shared by every backend on the device (its plans, and the one workspace that
/// matmuls enqueued in order on that stream may share); a run holds the lock while it sets a plan's bias and enqueues.
/// </summary>
internal sealed unsafe class CublasLtGemm : IDisposable
{
    private const long WorkspaceBytes = 32L << 20;

    private readonly CublasLtHandle _handle;
    private readonly DeviceBuffer _workspace;
    private readonly IntPtr _stream;
    private readonly Dictionary<GemmShape, GemmPlan> _plans = [];
    private readonly Lock _gate = new();

    public CublasLtGemm(IGpuDevice device, IntPtr stream)
    {
        CublasLt.Check(CublasLt.cublasLtCreate(out IntPtr h));
        _handle = new CublasLtHandle(h);
        _workspace = device.Allocate(WorkspaceBytes);
        _stream = stream;
    }

    public void Run(in GemmDescriptor g)
    {
        using Lock.Scope held = _gate.EnterScope();
        GemmPlan plan = Plan(g);
        if (g.Epilogue != GemmEpilogue.None)
        {
            IntPtr bias = g.Bias != IntPtr.Zero ? g.Bias : throw new ArgumentException("a bias epilogue needs a bias address");
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(plan.Desc, CublasLt.DescBiasPointer, &bias, (nuint)sizeof(IntPtr)));
        }

        if (g.InputType == DType.F8E4M3)
        {
            // Swapped operands: cuBLASLt's A is our B. A null pointer is a scale of 1.
            IntPtr scaleA = g.ScaleB, scaleB = g.ScaleA;
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(plan.Desc, CublasLt.DescAScalePointer, &scaleA, (nuint)sizeof(IntPtr)));
            CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(plan.Desc, CublasLt.DescBScalePointer, &scaleB, (nuint)sizeof(IntPtr)));
        }
        else if (g.ScaleA != IntPtr.Zero || g.ScaleB != IntPtr.Zero)
        {
            throw new ArgumentException("scale pointers are for FP8 operands only");
        }

        float alpha = g.Alpha, beta = g.Beta;
        CublasLt.HeuristicResult algo = plan.Algo;
        CublasLt.Check(CublasLt.cublasLtMatmul(_handle.Value, plan.Desc, &alpha, g.B, plan.A, g.A, plan.B, &beta, g.C, plan.C,
            g.C, plan.C, algo.Algo, _workspace.Address, (nuint)WorkspaceBytes, _stream));
    }

    /// <summary>Plans built so far (one per distinct shape, layout, dtype and epilogue).</summary>
    public int PlanCount => _plans.Count;

    /// <summary>
    /// The descriptor, layouts and heuristic algorithm for a GEMM's shape, built once and kept: creating them and asking
    /// the heuristic costs more than a small GEMM itself, and a model repeats a few dozen shapes.
    /// </summary>
    private GemmPlan Plan(in GemmDescriptor g)
    {
        var key = new GemmShape(g.TransposeA, g.TransposeB, g.M, g.N, g.K, g.Lda, g.StrideA, g.Ldb, g.StrideB, g.Ldc, g.StrideC, g.Batch,
            g.InputType, g.OutputType, g.Epilogue);
        if (_plans.TryGetValue(key, out GemmPlan? cached))
        {
            return cached;
        }

        var plan = new GemmPlan();
        try
        {
            CublasLt.Check(CublasLt.cublasLtMatmulDescCreate(out IntPtr desc, CublasLt.ComputeF32, CublasLt.DataF32));
            plan.Desc = desc;
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
                int biasType = DataType(g.OutputType);
                CublasLt.Check(CublasLt.cublasLtMatmulDescSetAttribute(desc, CublasLt.DescBiasDataType, &biasType, sizeof(int)));
            }

            // Column-major shapes of the swapped problem: Bᵀ-side (N×K), Aᵀ-side (K×M), Cᵀ (N×M).
            plan.A = Layout(g.InputType, g.TransposeB ? g.K : g.N, g.TransposeB ? g.N : g.K, g.Ldb, g.StrideB, g.Batch);
            plan.B = Layout(g.InputType, g.TransposeA ? g.M : g.K, g.TransposeA ? g.K : g.M, g.Lda, g.StrideA, g.Batch);
            plan.C = Layout(g.OutputType, g.N, g.M, g.Ldc, g.StrideC, g.Batch);
            plan.Algo = Heuristic(plan.Desc, plan.A, plan.B, plan.C);
        }
        catch
        {
            plan.Dispose();
            throw;
        }

        _plans[key] = plan;
        return plan;
    }

    public void Dispose()
    {
        foreach (GemmPlan plan in _plans.Values)
        {
            plan.Dispose();
        }

        _plans.Clear();
        _workspace.Dispose();
        _handle.Dispose();
    }

    private static int DataType(DType t) => t switch
    {
        DType.F32 => CublasLt.DataF32,
        DType.F16 => CublasLt.DataF16,
        DType.BF16 => CublasLt.DataBF16,
        DType.F8E4M3 => CublasLt.DataE4M3,
        _ => throw new ArgumentException($"cuBLASLt GEMM takes f32, f16, bf16 or FP8 E4M3, not {t}"),
    };

    private static IntPtr Layout(DType type, int rows, int cols, int ld, long stride, int batch)
    {
        CublasLt.Check(CublasLt.cublasLtMatrixLayoutCreate(out IntPtr layout, DataType(type), (ulong)rows, (ulong)cols, ld));
        if (batch > 1)
        {
            try
            {
                CublasLt.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(layout, CublasLt.LayoutBatchCount, &batch, sizeof(int)));
                CublasLt.Check(CublasLt.cublasLtMatrixLayoutSetAttribute(layout, CublasLt.LayoutStridedBatchOffset, &stride, sizeof(long)));
            }
            catch
            {
                CublasLt.cublasLtMatrixLayoutDestroy(layout);
                throw;
            }
        }

        return layout;
    }

    private CublasLt.HeuristicResult Heuristic(IntPtr desc, IntPtr a, IntPtr b, IntPtr c)
    {
        CublasLt.Check(CublasLt.cublasLtMatmulPreferenceCreate(out IntPtr preference));
        try
        {
            ulong workspace = WorkspaceBytes;
            CublasLt.Check(CublasLt.cublasLtMatmulPreferenceSetAttribute(preference, CublasLt.PreferenceMaxWorkspaceBytes, &workspace, sizeof(ulong)));
            CublasLt.HeuristicResult result;
            CublasLt.Check(CublasLt.cublasLtMatmulAlgoGetHeuristic(_handle.Value, desc, a, b, c, c, preference, 1, &result, out int found));
            return found > 0 ? result : throw new CudaException("cublasLtMatmulAlgoGetHeuristic", 0, "no cuBLASLt algorithm for this GEMM");
        }
        finally
        {
            CublasLt.cublasLtMatmulPreferenceDestroy(preference);
        }
    }

    /// <summary>A GEMM's identity for the plan cache: everything but the addresses and the scalars.</summary>
    private readonly record struct GemmShape(bool TransposeA, bool TransposeB, int M, int N, int K, int Lda, long StrideA, int Ldb, long StrideB,
        int Ldc, long StrideC, int Batch, DType InputType, DType OutputType, GemmEpilogue Epilogue);

    /// <summary>cuBLASLt objects of one shape, destroyed together.</summary>
    private sealed class GemmPlan : IDisposable
    {
        public IntPtr Desc, A, B, C;
        public CublasLt.HeuristicResult Algo;

        public void Dispose()
        {
            foreach (IntPtr layout in new[] { A, B, C }.Where(l => l != IntPtr.Zero))
            {
                CublasLt.cublasLtMatrixLayoutDestroy(layout);
            }

            if (Desc != IntPtr.Zero)
            {
                CublasLt.cublasLtMatmulDescDestroy(Desc);
            }
        }
    }
}

using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>
/// The two OpenBLAS entry points the CPU backend needs (Debian: libopenblas0-pthread). OpenBLAS keeps one
/// process-wide thread count, and its results depend on it (the M/N split changes which micro-kernel tile a
/// row lands in). So every GEMM takes the caller's thread count and runs under one lock that sets it: two
/// backends with different counts in one process cannot change each other's results mid-call.
/// <para>
/// What the lock serializes, and why two CPU backends with disjoint thread budgets still run side by side only in part:
/// it covers the BLAS GEMMs alone — prefill and training linears, convolutions through im2col, the attention products of
/// long sequences — not the backend's own kernels (norms, elementwise ops, direct and Winograd convolutions, the
/// bandwidth-bound decode GEMV, decode attention), which run on each backend's own threads
/// (<see cref="CpuBackend.Threads"/>) with no shared state. The GEMMs cannot be let go concurrently: the pthread build's
/// thread count is one global setting (another backend's call would run on this one's count, and round differently), and
/// its threaded calls share one worker pool that runs one call at a time anyway. Single-threaded calls from several
/// threads are safe, which is what <see cref="SerialRegion"/> uses within one backend; doing that across backends would
/// mean every backend splitting each of its GEMMs over single-threaded calls in place of OpenBLAS's own threading, which
/// is not done.
/// </para>
/// </summary>
internal static unsafe partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";

    public const int RowMajor = 101;
    public const int NoTrans = 111;
    public const int Trans = 112;

    private static readonly Lazy<bool> Loaded = new(Load);
    private static readonly Lock Gate = new();
    private static int _threads;

    /// <summary>Loads the library now, so a missing OpenBLAS is reported when a backend is made.</summary>
    public static void EnsureLoaded() => _ = Loaded.Value;

    /// <summary>Row-major C = alpha·op(A)·op(B) + beta·C on <paramref name="threads"/> OpenBLAS threads.</summary>
    public static void Sgemm(int threads, bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        _ = Loaded.Value;
        if (m == 0 || n == 0)
        {
            return;
        }

        lock (Gate)
        {
            if (_threads != threads)
            {
                openblas_set_num_threads(threads);
                _threads = threads;
            }

            cblas_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> with OpenBLAS at one thread and the lock held, so that inside it <see cref="SgemmSerial"/>
    /// may be called from many threads at once — one small GEMM each (attention's heads in parallel) — and no other
    /// caller changes the thread count meanwhile. The body must not call <see cref="Sgemm"/> from another thread.
    /// </summary>
    public static void SerialRegion(Action body)
    {
        _ = Loaded.Value;
        lock (Gate)
        {
            if (_threads != 1)
            {
                openblas_set_num_threads(1);
                _threads = 1;
            }

            body();
        }
    }

    /// <summary>A single-threaded row-major GEMM, only inside <see cref="SerialRegion"/>.</summary>
    public static void SgemmSerial(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta,
        float* c, int ldc)
    {
        if (m != 0 && n != 0)
        {
            cblas_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    private static bool Load()
    {
        if (!NativeLibrary.TryLoad(Library, typeof(OpenBlas).Assembly, null, out _))
        {
            throw new DllNotFoundException(
                $"CPU backend needs OpenBLAS ({Library}); on Debian/Ubuntu install it with `apt-get install libopenblas0-pthread`.");
        }

        return true;
    }

    [LibraryImport(Library)]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library)]
    private static partial void openblas_set_num_threads(int threads);
}

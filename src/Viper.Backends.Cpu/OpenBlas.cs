using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>The two OpenBLAS entry points the CPU backend needs (Debian: libopenblas0-pthread).</summary>
internal static unsafe partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";

    public const int RowMajor = 101;
    public const int NoTrans = 111;
    public const int Trans = 112;

    private static readonly Lazy<bool> Loaded = new(Load);

    /// <summary>Row-major C = alpha·op(A)·op(B) + beta·C.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        _ = Loaded.Value;
        if (m == 0 || n == 0)
        {
            return;
        }

        cblas_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    public static void SetThreads(int threads)
    {
        _ = Loaded.Value;
        openblas_set_num_threads(threads);
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

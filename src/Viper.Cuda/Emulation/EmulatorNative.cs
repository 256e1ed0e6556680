using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Viper.Cuda.Device;

namespace Viper.Cuda.Emulation;

/// <summary>
/// The emulated device's C API (kernels/emu/runtime.cpp), built by tools/emu/build.sh into
/// artifacts/emu/libviper_emu.so. Found through VIPER_EMU_LIBRARY, else by walking up from this assembly to
/// the repository's artifacts/emu folder.
/// </summary>
internal static unsafe partial class EmulatorNative
{
    private const string Library = "viper_emu";

    static EmulatorNative() => Driver.NativeLibraries.Register();

    public static string? LibraryPath => Environment.GetEnvironmentVariable("VIPER_EMU_LIBRARY") ?? FindBuilt();

    public static void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != 0)
        {
            throw new GpuException(call, Marshal.PtrToStringUTF8(viper_emu_last_error()) ?? "unknown error");
        }
    }

    [LibraryImport(Library)]
    public static partial IntPtr viper_emu_last_error();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int viper_emu_kernel_exists(string name);

    [LibraryImport(Library)]
    public static partial int viper_emu_set_device(int ordinal);

    [LibraryImport(Library)]
    public static partial int viper_emu_configure_device(int ordinal, int threads);

    [LibraryImport(Library)]
    public static partial int viper_emu_malloc(out IntPtr pointer, nuint bytes);

    [LibraryImport(Library)]
    public static partial int viper_emu_free(IntPtr pointer);

    [LibraryImport(Library)]
    public static partial int viper_emu_check_guards();

    [LibraryImport(Library)]
    public static partial int viper_emu_memcpy(IntPtr destination, IntPtr source, nuint bytes, int kind);

    [LibraryImport(Library)]
    public static partial int viper_emu_memset(IntPtr destination, byte value, nuint bytes);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int viper_emu_launch(string name, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, nuint shared, IntPtr args);

    [LibraryImport(Library)]
    public static partial int viper_emu_gemm(int transA, int transB, int m, int n, int k, float alpha, IntPtr a, int lda, long strideA,
        IntPtr b, int ldb, long strideB, float beta, IntPtr c, int ldc, long strideC, int batch, int dtypeAB, int dtypeC, IntPtr bias, int epilogue,
        IntPtr scaleA, IntPtr scaleB);

    [LibraryImport(Library)]
    public static partial int viper_emu_capture_begin();

    [LibraryImport(Library)]
    public static partial int viper_emu_capture_end(out IntPtr graph);

    [LibraryImport(Library)]
    public static partial int viper_emu_graph_launch(IntPtr graph);

    [LibraryImport(Library)]
    public static partial int viper_emu_graph_nodes(IntPtr graph);

    [LibraryImport(Library)]
    public static partial void viper_emu_graph_destroy(IntPtr graph);

    private static string? FindBuilt()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "artifacts", "emu", "libviper_emu.so");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

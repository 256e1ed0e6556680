using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Viper.Cuda.Driver;

/// <summary>NVRTC (libnvrtc.so.*): run-time compilation of kernels/*.cu to PTX or CUBIN.</summary>
internal static unsafe partial class Nvrtc
{
    public const int Success = 0;
    public const int CompilationError = 6;

    static Nvrtc() => NativeLibraries.Register();

    public static void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != Success)
        {
            throw new CudaException(call, result, Marshal.PtrToStringUTF8(nvrtcGetErrorString(result)) ?? "NVRTC error");
        }
    }

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial IntPtr nvrtcGetErrorString(int result);

    [LibraryImport(NativeLibraries.Nvrtc, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int nvrtcCreateProgram(out IntPtr program, string source, string name, int headerCount, IntPtr* headers, IntPtr* includeNames);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcCompileProgram(IntPtr program, int optionCount, IntPtr* options);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLogSize(IntPtr program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetProgramLog(IntPtr program, byte* log);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBINSize(IntPtr program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcGetCUBIN(IntPtr program, byte* cubin);

    [LibraryImport(NativeLibraries.Nvrtc)]
    public static partial int nvrtcDestroyProgram(ref IntPtr program);
}

/// <summary>An NVRTC program, destroyed exactly once.</summary>
internal sealed class NvrtcProgramHandle(IntPtr program) : CudaHandle(program)
{
    protected override bool ReleaseHandle()
    {
        IntPtr p = handle;
        return Nvrtc.nvrtcDestroyProgram(ref p) == Nvrtc.Success;
    }
}

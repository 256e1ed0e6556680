using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Viper.Cuda.Driver;

/// <summary>The CUDA driver API (libcuda.so.1) calls the engine makes, in the dotnet/runtime LibraryImport style.</summary>
internal static unsafe partial class CudaDriver
{
    public const int Success = 0;
    public const int OutOfMemory = 2;

    public const int AttributeMaxThreadsPerBlock = 1;
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;
    public const int AttributeMaxSharedMemoryPerBlockOptin = 97;
    public const int FunctionAttributeMaxDynamicSharedSizeBytes = 8;
    public const int StreamNonBlocking = 1;
    public const int StreamCaptureModeRelaxed = 2;

    static CudaDriver() => NativeLibraries.Register();

    public static void Check(int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != Success)
        {
            throw new CudaException(call, result, Describe(result));
        }
    }

    public static string Describe(int result)
    {
        string name = cuGetErrorName(result, out IntPtr n) == Success ? Marshal.PtrToStringUTF8(n) ?? "" : "unknown CUresult";
        string text = cuGetErrorString(result, out IntPtr s) == Success ? Marshal.PtrToStringUTF8(s) ?? "" : "";
        return text.Length > 0 ? $"{name}: {text}" : name;
    }

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuInit(uint flags);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGetErrorName(int result, out IntPtr name);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGetErrorString(int result, out IntPtr text);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuDeviceGetCount(out int count);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuDeviceTotalMem_v2")]
    public static partial int cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    public static partial int cuDevicePrimaryCtxRelease(int device);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuCtxSetCurrent(IntPtr context);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuCtxSynchronize();

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemAlloc_v2")]
    public static partial int cuMemAlloc(out IntPtr pointer, nuint bytes);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemFree_v2")]
    public static partial int cuMemFree(IntPtr pointer);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemGetInfo_v2")]
    public static partial int cuMemGetInfo(out nuint free, out nuint total);

    /// <summary>Page-locked host memory (cuMemHostAlloc; the v2 entry point is the only one exported).</summary>
    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuMemHostAlloc(out IntPtr pointer, nuint bytes, uint flags);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuMemFreeHost(IntPtr pointer);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    public static partial int cuMemcpyHtoDAsync(IntPtr destination, void* source, nuint bytes, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemcpyDtoHAsync_v2")]
    public static partial int cuMemcpyDtoHAsync(void* destination, IntPtr source, nuint bytes, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    public static partial int cuMemcpyDtoDAsync(IntPtr destination, IntPtr source, nuint bytes, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuMemsetD8Async(IntPtr destination, byte value, nuint count, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuModuleLoadData(out IntPtr module, void* image);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuModuleUnload(IntPtr module);

    [LibraryImport(NativeLibraries.Cuda, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuFuncSetAttribute(IntPtr function, int attribute, int value);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, IntPtr stream, IntPtr kernelParams, IntPtr extra);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, IntPtr function, int blockSize, nuint dynamicSharedBytes);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuStreamCreate(out IntPtr stream, uint flags);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuStreamDestroy_v2")]
    public static partial int cuStreamDestroy(IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuStreamSynchronize(IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuEventCreate(out IntPtr ev, uint flags);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuEventDestroy_v2")]
    public static partial int cuEventDestroy(IntPtr ev);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuEventRecord(IntPtr ev, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuEventSynchronize(IntPtr ev);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);

    [LibraryImport(NativeLibraries.Cuda, EntryPoint = "cuStreamBeginCapture_v2")]
    public static partial int cuStreamBeginCapture(IntPtr stream, int mode);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuStreamEndCapture(IntPtr stream, out IntPtr graph);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGraphGetNodes(IntPtr graph, IntPtr nodes, ref nuint count);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGraphLaunch(IntPtr exec, IntPtr stream);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGraphExecDestroy(IntPtr exec);

    [LibraryImport(NativeLibraries.Cuda)]
    public static partial int cuGraphDestroy(IntPtr graph);
}

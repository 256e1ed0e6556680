using System.Reflection;
using System.Runtime.InteropServices;

namespace Viper.Cuda.Driver;

/// <summary>
/// The one DllImport resolver of this assembly (.NET allows one per assembly). Resolves the CUDA libraries by the names their packages install (first found wins) and, when none
/// is there, fails with which library is missing and how to get it; and the emulated device's library.
/// </summary>
internal static class NativeLibraries
{
    public const string Cuda = "cuda";
    public const string Nvrtc = "nvrtc";
    public const string CublasLt = "cublasLt";
    public const string Emulator = "viper_emu";

    private static readonly Dictionary<string, (string[] Candidates, string Hint)> Known = new()
    {
        [Cuda] = (["libcuda.so.1"], "the NVIDIA driver (libcuda.so.1) is not installed or this machine has no GPU"),
        [Nvrtc] = (["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"], "NVRTC ships with the CUDA toolkit or the nvidia-cuda-nvrtc pip/conda package; put libnvrtc.so.12 on the library path"),
        [CublasLt] = (["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"], "cuBLASLt ships with the CUDA toolkit or the nvidia-cublas package; put libcublasLt.so.12 on the library path"),
    };

    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
        }
    }

    /// <summary>Null when the library loads, else why it does not.</summary>
    public static string? WhyUnavailable(string library)
    {
        var (candidates, hint) = Known[library];
        foreach (string name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out IntPtr handle))
            {
                NativeLibrary.Free(handle);
                return null;
            }
        }

        return $"{string.Join(" / ", candidates)} not found: {hint}";
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name == Emulator)
        {
            return ResolveEmulator();
        }

        if (!Known.TryGetValue(name, out var known))
        {
            return IntPtr.Zero;
        }

        foreach (string candidate in known.Candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
            {
                return handle;
            }
        }

        throw new DllNotFoundException($"{string.Join(" / ", known.Candidates)} not found: {known.Hint}");
    }

    private static IntPtr ResolveEmulator()
    {
        string? path = Emulation.EmulatorNative.LibraryPath;
        if (path is null || !NativeLibrary.TryLoad(path, out IntPtr handle))
        {
            throw new DllNotFoundException(
                $"the emulated CUDA device library ({path ?? "artifacts/emu/libviper_emu.so"}) is not built; run tools/emu/build.sh " +
                "(g++ is all it needs) or set VIPER_EMU_LIBRARY");
        }

        return handle;
    }
}

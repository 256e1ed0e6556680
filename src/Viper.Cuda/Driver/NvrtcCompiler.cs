using System.Runtime.InteropServices;
using System.Text;
using Viper.Cuda.Kernels;

namespace Viper.Cuda.Driver;

/// <summary>Compiles one kernel family (its .cu plus the shared headers) to a CUBIN for one architecture, through the cache.</summary>
internal sealed class NvrtcCompiler(string arch, KernelCache cache)
{
    /// <summary>-lineinfo keeps source lines for profilers; C++17 is what all three of our compilers share.</summary>
    public IReadOnlyList<string> Options { get; } = [$"--gpu-architecture={arch}", "-std=c++17", "-lineinfo", "-default-device"];

    public byte[] Compile(KernelFamily family)
    {
        string source = KernelSources.Read(family.Source);
        string[] headers = KernelSources.Headers.Select(KernelSources.Read).ToArray();
        string key = KernelCache.Key(family.Source, arch, Options, [source, .. headers]);
        return cache.GetOrAdd(key, () => Build(family.Source, source, headers));
    }

    private unsafe byte[] Build(string name, string source, string[] headers)
    {
        var allocations = new List<IntPtr>();
        IntPtr Utf8(string s)
        {
            IntPtr p = Marshal.StringToCoTaskMemUTF8(s);
            allocations.Add(p);
            return p;
        }

        try
        {
            IntPtr* headerTexts = stackalloc IntPtr[headers.Length];
            IntPtr* headerNames = stackalloc IntPtr[headers.Length];
            for (int i = 0; i < headers.Length; i++)
            {
                headerTexts[i] = Utf8(headers[i]);
                headerNames[i] = Utf8(KernelSources.Headers[i]);
            }

            Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out IntPtr raw, source, name, headers.Length, headerTexts, headerNames));
            using var program = new NvrtcProgramHandle(raw);
            IntPtr* options = stackalloc IntPtr[Options.Count];
            for (int i = 0; i < Options.Count; i++)
            {
                options[i] = Utf8(Options[i]);
            }

            int result = Nvrtc.nvrtcCompileProgram(program.Value, Options.Count, options);
            if (result == Nvrtc.CompilationError)
            {
                throw new KernelCompileException(name, string.Join(' ', Options), Log(program));
            }

            Nvrtc.Check(result);
            Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program.Value, out nuint size));
            byte[] cubin = new byte[size];
            fixed (byte* p = cubin)
            {
                Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program.Value, p));
            }

            return cubin;
        }
        finally
        {
            allocations.ForEach(Marshal.ZeroFreeCoTaskMemUTF8);
        }
    }

    private static unsafe string Log(NvrtcProgramHandle program)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetProgramLogSize(program.Value, out nuint size));
        byte[] log = new byte[size];
        fixed (byte* p = log)
        {
            Nvrtc.Check(Nvrtc.nvrtcGetProgramLog(program.Value, p));
        }

        return Encoding.UTF8.GetString(log).TrimEnd('\0');
    }
}

namespace Viper.Cuda.Kernels;

/// <summary>kernels/*.cu and common.cuh, embedded in this assembly so a deployed engine compiles the exact sources it was tested with.</summary>
public static class KernelSources
{
    /// <summary>Headers every family may include, by the name the #include uses.</summary>
    public static IReadOnlyList<string> Headers { get; } = ["common.cuh"];

    public static string Read(string file)
    {
        using Stream? s = typeof(KernelSources).Assembly.GetManifestResourceStream($"kernels/{file}");
        if (s is null)
        {
            throw new FileNotFoundException($"kernel source kernels/{file} is not embedded in {typeof(KernelSources).Assembly.GetName().Name}");
        }

        using var reader = new StreamReader(s);
        return reader.ReadToEnd();
    }
}

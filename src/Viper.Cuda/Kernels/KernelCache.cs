using System.Security.Cryptography;
using System.Text;

namespace Viper.Cuda.Kernels;

/// <summary>
/// Compiled kernel images on disk, keyed by a hash of the sources, headers, target architecture and compiler
/// options, so each family is compiled once per machine and recompiled whenever any of those change.
/// </summary>
public sealed class KernelCache(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>VIPER_KERNEL_CACHE, else $XDG_CACHE_HOME/viper-engine/kernels, else ~/.cache/viper-engine/kernels.</summary>
    public static KernelCache Default()
    {
        string? configured = Environment.GetEnvironmentVariable("VIPER_KERNEL_CACHE");
        string root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return new KernelCache(configured ?? Path.Combine(root, "viper-engine", "kernels"));
    }

    public static string Key(string family, string arch, IEnumerable<string> options, IEnumerable<string> sources)
    {
        var text = new StringBuilder().Append(family).Append('\0').Append(arch).Append('\0');
        foreach (string o in options)
        {
            text.Append(o).Append('\0');
        }

        foreach (string s in sources)
        {
            text.Append(s).Append('\0');
        }

        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..24];
        return $"{Path.GetFileNameWithoutExtension(family)}-{arch}-{hash}";
    }

    /// <summary>The cached image for <paramref name="key"/>, building and storing it first when absent.</summary>
    public byte[] GetOrAdd(string key, Func<byte[]> build)
    {
        string path = Path.Combine(Directory, key + ".cubin");
        if (File.Exists(path))
        {
            return File.ReadAllBytes(path);
        }

        byte[] image = build();
        System.IO.Directory.CreateDirectory(Directory);
        string temp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, image);
        File.Move(temp, path, overwrite: true); // atomic: a concurrent reader sees the old file or the whole new one
        return image;
    }
}

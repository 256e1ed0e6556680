using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Viper.Pipelines;

/// <summary>
/// A1111's short model hash ("AutoV2"): the first 10 hex digits of the file's SHA-256, as its PNG info names LoRAs and
/// embeddings. Cached per path, size and write time, so a LoRA used by every request is hashed once.
/// </summary>
public static class FileHash
{
    private static readonly ConcurrentDictionary<(string, long, DateTime), string> Cache = new();

    public static string Short(string path)
    {
        var info = new FileInfo(path);
        return Cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), _ =>
        {
            using FileStream stream = File.OpenRead(info.FullName);
            return Convert.ToHexStringLower(SHA256.HashData(stream))[..10];
        });
    }
}

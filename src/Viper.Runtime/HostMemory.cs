using System.Globalization;

namespace Viper.Runtime;

/// <summary>The host's memory as the kernel reports it.</summary>
public static class HostMemory
{
    /// <summary>
    /// /proc/meminfo's MemAvailable (what can be allocated without swapping, page cache included); where there is no
    /// /proc (not Linux), the GC's view of the machine's total available memory.
    /// </summary>
    public static long AvailableBytes()
    {
        const string path = "/proc/meminfo";
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }
}

using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>
/// Large buffers on 2 MiB pages where Linux offers them (transparent huge pages in <c>madvise</c> mode, the common
/// default). Decode streams every weight byte once per token, and with 4 KiB pages each page is a TLB miss on the way:
/// measured on a 2-vCPU EPYC guest, a Q4_0 decode GEMV went from 41 to 56 GB/s and a plain 1 GiB read from 50 to 56 GB/s
/// on huge pages. Only the whole 2 MiB pages inside a buffer are advised: a partly used last page would be backed whole
/// (up to 2 MiB more resident memory per tensor).
/// </summary>
internal static unsafe partial class HugePages
{
    public const long PageBytes = 2L << 20;

    /// <summary>Buffers from this size up are aligned to a huge page and advised; smaller ones would gain a page or none.</summary>
    public const long MinBufferBytes = 2 * PageBytes;

    private const int MadvHugePage = 14;

    public static bool Applies(long sizeInBytes) => sizeInBytes >= MinBufferBytes && OperatingSystem.IsLinux();

    /// <summary>
    /// Asks for huge pages over the whole pages of [<paramref name="start"/>, + <paramref name="sizeInBytes"/>), start
    /// aligned to <see cref="PageBytes"/>. A kernel without them (or with them off) refuses, and the buffer keeps small
    /// pages: only speed depends on it, so the answer is not an error.
    /// </summary>
    public static void Advise(byte* start, long sizeInBytes) =>
        _ = madvise(start, (nuint)(sizeInBytes / PageBytes * PageBytes), MadvHugePage);

    [LibraryImport("libc")]
    private static partial int madvise(void* address, nuint length, int advice);
}
